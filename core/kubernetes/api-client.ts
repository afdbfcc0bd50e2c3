// A small JSON client for the Kubernetes API over node:https: kube-access.ts decides server,
// TLS material and credentials; watches stream through `watch` (informer.ts keeps the cache).
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { createInterface } from "node:readline";
import { KubernetesApiError } from "../api/errors.ts";
import { type KubeAccess, type KubeRequestOptions, loadKubeAccess } from "./kube-access.ts";

/** A non-2xx answer (code SLUICE_KUBERNETES_API_STATUS); callers branch on `status`. */
export { KubernetesApiError as ApiError };

/**
 * Lists and watches that return only each object's metadata (PartialObjectMetadata), as
 * client-go's metadata informers ask: the data of objects one only needs to know about
 * (every Secret in the cluster) never reaches, or stays in, this process.
 */
export const METADATA_ONLY = {
  list: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
  watch: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
};

export class ApiClient {
  readonly access: KubeAccess;

  constructor(access: KubeAccess) {
    this.access = access;
  }

  /** From a kubeconfig file ($KUBECONFIG, ~/.kube/config), else the pod's service account. */
  /** Throws SLUICE_CONFIG_INVALID naming the file when the kubeconfig cannot be read or used. */
  static load(kubeconfigPath?: string): ApiClient {
    return new ApiClient(loadKubeAccess(kubeconfigPath));
  }

  /**
   * Sends a request and resolves with the parsed body; throws ApiError (KubernetesApiError)
   * unless 2xx. `accept` can ask for another representation (METADATA_ONLY_LIST).
   */
  async send<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    accept = "application/json",
  ): Promise<T> {
    const res = await this.exchange(method, path, body, contentType, accept);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw new KubernetesApiError(res.status, method, path, res.body);
  }

  /** Sends a request and resolves with its status and parsed body, whatever the status. */
  async exchange(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    accept = "application/json",
  ): Promise<{ status: number; body: unknown }> {
    const options = await this.#options(method, path, accept);
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

  /**
   * A watch: GET `path` (with watch=true in its query), one JSON event per line to `onEvent`
   * until the server ends the stream (resolves) or it fails (rejects; a non-2xx answer as
   * ApiError). `idleMs` without a byte — the server sends bookmarks about every minute —
   * means the connection is gone without a word: it is destroyed and the promise rejects.
   */
  async watch(
    path: string,
    onEvent: (event: unknown) => void,
    idleMs: number,
    signal: AbortSignal,
    accept = "application/json",
  ): Promise<void> {
    const options = await this.#options("GET", path, accept);
    options.signal = signal;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(options, resolve);
      req.on("error", reject);
      req.setTimeout(idleMs, () => req.destroy(new Error(`GET ${path}: no event for ${idleMs} ms`)));
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        body = { message: Buffer.concat(chunks).toString("utf8") };
      }
      throw new KubernetesApiError(status, "GET", path, body);
    }
    try {
      for await (const line of createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY })) {
        if (line !== "") onEvent(JSON.parse(line));
      }
    } finally {
      // Ended early (a handler threw, the signal fired): the connection goes too.
      res.destroy();
    }
  }

  async #options(method: string, path: string, accept = "application/json"): Promise<KubeRequestOptions> {
    const server = this.access.server;
    const options: KubeRequestOptions = {
      hostname: server.hostname.replace(/^\[|\]$/g, ""),
      port: server.port || "443",
      path: server.pathname === "/" ? path : `${server.pathname.replace(/\/$/, "")}${path}`,
      method,
      headers: { accept },
    };
    await this.access.apply(options);
    return options;
  }
}
