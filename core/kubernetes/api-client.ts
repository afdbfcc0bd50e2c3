// A small JSON client for the Kubernetes API: the kubeconfig (file, or in-cluster service
// account) decides server, CA and credentials via @kubernetes/client-node; requests go over
// node:https. Informers come from @kubernetes/client-node itself (resource-store.ts).
import { type RequestOptions, request } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { ConfigInvalidError, KubernetesApiError } from "../api/errors.ts";

/** A non-2xx answer (code SLUICE_KUBERNETES_API_STATUS); callers branch on `status`. */
export { KubernetesApiError as ApiError };

export class ApiClient {
  readonly kubeConfig: KubeConfig;
  readonly #server: URL;

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new ConfigInvalidError("kubeconfig: it has no current cluster");
    this.#server = new URL(cluster.server);
  }

  /** From a kubeconfig file, else the pod's service account (in-cluster). */
  /** Throws SLUICE_CONFIG_INVALID naming the file when the kubeconfig cannot be read or used. */
  static load(kubeconfigPath?: string): ApiClient {
    const kc = new KubeConfig();
    try {
      if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
      else kc.loadFromDefault();
    } catch (err) {
      throw new ConfigInvalidError(
        `--kubeconfig ${kubeconfigPath ?? "(default)"}: ${(err as Error).message}`,
      );
    }
    return new ApiClient(kc);
  }

  /** Sends a request and resolves with the parsed body; throws ApiError (KubernetesApiError) unless 2xx. */
  async send<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const res = await this.exchange(method, path, body, contentType);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw new KubernetesApiError(res.status, method, path, res.body);
  }

  /** Sends a request and resolves with its status and parsed body, whatever the status. */
  async exchange(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; body: unknown }> {
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
    return new Promise((resolve, reject) => {
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
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.end(payload);
    });
  }
}
