// Where the one-node cluster comes from. The scenarios are the same for every provider; a
// provider starts a cluster with Sluice's image (and the echo backend's) available to it,
// and knows the few things that differ: how the tests reach a Service, how they kill a
// container's process, how it is torn down.
//   local: our own cluster on this machine (e2e/cluster/up.sh) — CI and our machines.
//   kind:  a kind cluster (needs Docker and kind) — scripts/e2e-kind.sh, for Docker users.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

export const ROOT = join(import.meta.dirname, "../../..");

/** What the tests get from the global setup (it must survive serialisation). */
export interface ClusterInfo {
  provider: "local" | "kind";
  kubeconfig: string;
  /** local: containerd's socket; kind: the node container's name */
  runtime: string;
  /** helm values this provider needs (e.g. a NodePort Service where ClusterIPs are out of reach) */
  helmValues: Record<string, string>;
}

export interface RunningCluster {
  info: ClusterInfo;
  down(): void;
}

export const APP_VERSION = (
  parse(readFileSync(join(ROOT, "charts/sluice/Chart.yaml"), "utf8")) as { appVersion: string }
).appVersion;
export const SLUICE_IMAGE = `ghcr.io/sluice-dev/sluice:${APP_VERSION}`;

const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) =>
  execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: env ?? process.env,
    timeout: 60 * 60 * 1000,
  });

const lastLine = (out: string) => out.trim().split("\n").at(-1) as string;

function localCluster(): RunningCluster {
  // `make image`'s archive, imported into the node's containerd by up.sh.
  const image = lastLine(run(join(ROOT, "scripts/image/build.sh"), []));
  const out = run(join(ROOT, "e2e/cluster/up.sh"), [], { ...process.env, SLUICE_CLUSTER_IMPORT: image });
  const vars = Object.fromEntries(
    out
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const { KUBECONFIG: kubeconfig, DOWN: down, STATE_DIR: state, CONTAINERD_ADDRESS: containerd } = vars;
  if (!kubeconfig || !down || !state || !containerd) throw new Error(`cluster did not start:\n${out}`);
  return {
    info: { provider: "local", kubeconfig, runtime: containerd, helmValues: {} },
    // down.sh exits 1 naming anything the cluster left on the host: that fails the run.
    down: () => run(down, [state]),
  };
}

function kindCluster(): RunningCluster {
  const name = process.env.KIND_CLUSTER ?? "sluice-e2e";
  if (!run("kind", ["get", "clusters"]).split("\n").includes(name)) {
    run("kind", ["create", "cluster", "--name", name, "--wait", "180s"]);
  }
  run("docker", ["build", "-t", SLUICE_IMAGE, ROOT]);
  run("kind", ["load", "docker-image", SLUICE_IMAGE, "--name", name]);
  const kubeconfig = join(mkdtempSync(join(tmpdir(), "sluice-kind-")), "kubeconfig");
  writeFileSync(kubeconfig, run("kind", ["get", "kubeconfig", "--name", name]), { mode: 0o600 });
  return {
    // ClusterIPs are not reachable from outside the kind node container; its IP and a NodePort are.
    info: {
      provider: "kind",
      kubeconfig,
      runtime: `${name}-control-plane`,
      helmValues: { "gateway.service.type": "NodePort" },
    },
    down: () => {
      if (process.env.KEEP_CLUSTER !== "1") run("kind", ["delete", "cluster", "--name", name]);
    },
  };
}

export function startCluster(): RunningCluster {
  const provider = process.env.SLUICE_CLUSTER_PROVIDER ?? "local";
  if (provider === "local") return localCluster();
  if (provider === "kind") return kindCluster();
  throw new Error(`SLUICE_CLUSTER_PROVIDER=${provider}: expected local or kind`);
}

/** SIGKILL to a container's main process, as the OOM killer or a crash would end it. */
export function killContainerProcess(info: ClusterInfo, containerId: string): void {
  const id = containerId.replace(/^containerd:\/\//, "");
  const args = ["-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id];
  if (info.provider === "local") run("ctr", ["--address", info.runtime, ...args]);
  else run("docker", ["exec", info.runtime, "ctr", ...args]);
}

/** The base URL of a Service's port as the tests reach it. */
export function serviceUrl(
  info: ClusterInfo,
  service: { clusterIP: string; port: number; nodePort?: number },
): string {
  if (info.provider === "local") return `http://${service.clusterIP}:${service.port}`;
  const nodeIp = run("docker", [
    "inspect",
    "-f",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    info.runtime,
  ]).trim();
  return `http://${nodeIp}:${service.nodePort}`;
}
