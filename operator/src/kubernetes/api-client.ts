// A small JSON client for the Kubernetes API: the kubeconfig (file, or in-cluster service
// account) decides server, CA and credentials via @kubernetes/client-node; requests go over
// node:https. Informers come from @kubernetes/client-node itself (resource-store.ts).
import { type RequestOptions, request } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, method: string, path: string, body: unknown) {
    const message = (body as { message?: string } | undefined)?.message ?? JSON.stringify(body);
    super(`${method} ${path}: ${status} ${message}`);
    this.status = status;
    this.body = body;
  }
}

export class ApiClient {
  readonly kubeConfig: KubeConfig;
  readonly #server: URL;

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.#server = new URL(cluster.server);
  }

  /** From a kubeconfig file, else the pod's service account (in-cluster). */
  static load(kubeconfigPath?: string): ApiClient {
    const kc = new KubeConfig();
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
    return new ApiClient(kc);
  }

  async send<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const options: RequestOptions & { headers: Record<string, string> } = {
      hostname: this.#server.hostname,
      port: this.#server.port || "443",
      path,
      method,
      headers: { accept: "application/json" },
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) options.headers["content-type"] = contentType;
    return new Promise<T>((resolve, reject) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { message: text };
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed as T);
          else reject(new ApiError(status, method, path, parsed));
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.end(payload);
    });
  }
}
