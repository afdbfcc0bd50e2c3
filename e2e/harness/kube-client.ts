// The tests' view of the cluster: kubectl, where the test is about what a user types, and
// the operator's own API client (with the harness's admin kubeconfig) for bulk checks,
// answering with the status instead of throwing, since refusals are what tests look at.
import { execFileSync } from "node:child_process";
import { ApiClient } from "../../operator/src/kubernetes/api-client.ts";

export interface KubeResponse {
  status: number;
  body: Record<string, unknown>;
}

export class KubeClient {
  readonly kubeconfig: string;
  readonly #api: ApiClient;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
    this.#api = ApiClient.load(kubeconfig);
  }

  async send(method: string, path: string, body?: unknown): Promise<KubeResponse> {
    const { status, body: answer } = await this.#api.exchange(method, path, body);
    return { status, body: answer as Record<string, unknown> };
  }

  /** Runs kubectl against the test cluster; throws with stderr when it fails. */
  kubectl(...args: string[]): string {
    return execFileSync("kubectl", ["--kubeconfig", this.kubeconfig, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
}
