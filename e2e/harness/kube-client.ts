// A minimal Kubernetes API client for tests: reads the harness's kubeconfig (server, CA,
// bearer token) and sends JSON requests with node:https. kubectl is used where the
// test is about what a user types; this is for bulk checks.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { parse } from "yaml";

interface KubeConfig {
  clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  users: { user: { token: string } }[];
}

export interface KubeResponse {
  status: number;
  body: Record<string, unknown>;
}

export class KubeClient {
  readonly #server: URL;
  readonly #ca: Buffer;
  readonly #token: string;
  readonly kubeconfig: string;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
    const config = parse(readFileSync(kubeconfig, "utf8")) as KubeConfig;
    const cluster = config.clusters[0]?.cluster;
    const token = config.users[0]?.user.token;
    if (!cluster || !token) throw new Error(`${kubeconfig}: no cluster or token`);
    this.#server = new URL(cluster.server);
    this.#ca = Buffer.from(cluster["certificate-authority-data"], "base64");
    this.#token = token;
  }

  send(method: string, path: string, body?: unknown): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: this.#server.hostname,
          port: this.#server.port,
          path,
          method,
          ca: this.#ca,
          headers: {
            authorization: `Bearer ${this.#token}`,
            accept: "application/json",
            ...(payload ? { "content-type": "application/json" } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({
              status: res.statusCode ?? 0,
              body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
            });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Runs kubectl against the test cluster; throws with stderr when it fails. */
  kubectl(...args: string[]): string {
    return execFileSync("kubectl", ["--kubeconfig", this.kubeconfig, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
}
