// The tests' view of the cluster: kubectl, where the test is about what a user types, and
// the operator's own API client (with the harness's admin kubeconfig) for bulk checks,
// answering with the status instead of throwing, since refusals are what tests look at.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ApiClient } from "../../core/kubernetes/api-client.ts";

export interface KubeResponse {
  status: number;
  body: Record<string, unknown>;
}

export class KubeClient {
  readonly kubeconfig: string;
  readonly #api: ApiClient;
  #files: string | undefined;
  #applied = 0;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
    this.#api = ApiClient.load(kubeconfig);
  }

  async send(method: string, path: string, body?: unknown): Promise<KubeResponse> {
    const { status, body: answer } = await this.#api.exchange(method, path, body);
    return { status, body: answer as Record<string, unknown> };
  }

  /**
   * `kubectl apply -f` (or another verb taking -f, such as replace) of objects written as one
   * YAML file, kept in a directory of this client's for a look after a failure.
   */
  apply(objects: unknown[], verb = "apply"): string {
    this.#files ??= mkdtempSync(join(tmpdir(), "sluice-e2e-manifests-"));
    const file = join(this.#files, `${verb}-${++this.#applied}.yaml`);
    writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
    return this.kubectl(verb, "-f", file);
  }

  /** Runs kubectl against the test cluster; throws with stderr when it fails. */
  kubectl(...args: string[]): string {
    return execFileSync("kubectl", ["--kubeconfig", this.kubeconfig, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
}
