// helm, built from its Go module by e2e/helm/build.sh (cached in .cache/helm/), run with a
// throwaway HELM_*_HOME so tests never touch the user's helm configuration.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT } from "../harness/install.ts";

export const CHART = join(ROOT, "charts/sluice");

let binary: string | undefined;
const home = mkdtempSync(join(tmpdir(), "sluice-helm-home-"));

export function helmBinary(): string {
  binary ??= execFileSync(join(ROOT, "e2e/helm/build.sh"), [], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 30 * 60 * 1000,
  })
    .trim()
    .split("\n")
    .at(-1) as string;
  return binary;
}

/** The throwaway helm configuration every helm run of the tests uses. */
export function helmHome(): Record<string, string> {
  return {
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_DATA_HOME: join(home, "data"),
  };
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; answers with the exit status instead of throwing (refusals are what tests check). */
export function helm(args: string[], kubeconfig?: string): HelmResult {
  const res = spawnSync(helmBinary(), [...args, ...(kubeconfig ? ["--kubeconfig", kubeconfig] : [])], {
    encoding: "utf8",
    env: { ...process.env, ...helmHome() },
    timeout: 120_000,
  });
  return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/** `helm template` of the chart; throws with helm's message when it fails. */
export function renderChart(release: string, namespace: string, args: string[] = []): string {
  const res = helm(["template", release, CHART, "--namespace", namespace, ...args]);
  if (res.status !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return res.stdout;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export function parseObjects(yaml: string): KubeObject[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === "object");
}

export const objectKey = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The object `Kind/namespace/name` of a render, typed as the caller reads it. */
export function findObject<T = KubeObject>(objects: KubeObject[], key: string): T {
  const found = objects.find((o) => objectKey(o) === key);
  if (!found) throw new Error(`${key} not rendered; rendered: ${objects.map(objectKey).join(", ")}`);
  return found as unknown as T;
}
