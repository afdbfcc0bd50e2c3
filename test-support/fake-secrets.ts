// The Secrets of one namespace behind the ApiClient `send` the snapshot publisher and the
// gateway's snapshot source use: GET, POST (409 when the name exists), PUT (409 on a stale
// resourceVersion; 422 on changing an immutable Secret's data), DELETE, and list by label.
// For unit tests of snapshot delivery; the e2e suite runs the same code on a real API server.
import { randomUUID } from "node:crypto";
import { ApiError } from "../core/kubernetes/api-client.ts";

export interface FakeSecret {
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  immutable?: boolean;
  data?: Record<string, string>;
}

export class FakeSecrets {
  readonly secrets = new Map<string, FakeSecret>();
  readonly requests: { method: string; path: string }[] = [];
  /** Answers a matching request with this status instead. */
  failing: ((method: string, name: string) => number | undefined) | undefined;
  readonly namespace: string;
  #rv = 1;

  constructor(namespace: string) {
    this.namespace = namespace;
  }

  readonly send = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    this.requests.push({ method, path });
    const prefix = `/api/v1/namespaces/${this.namespace}/secrets`;
    if (!path.startsWith(prefix)) throw new ApiError(404, method, path, {});
    const rest = path.slice(prefix.length);
    const b = body as FakeSecret | undefined;
    const name = rest.startsWith("/") ? rest.slice(1) : (b?.metadata.name ?? "");
    const failed = this.failing?.(method, name);
    if (failed) throw new ApiError(failed, method, path, { message: "failing" });
    const existing = this.secrets.get(name);
    if (method === "GET" && rest.startsWith("?labelSelector=")) {
      const [k, v] = decodeURIComponent(rest.slice("?labelSelector=".length)).split("=");
      const items = [...this.secrets.values()].filter((s) => k && s.metadata.labels?.[k] === v);
      return structuredClone({ items }) as T;
    }
    if (method === "GET") {
      if (!existing) throw new ApiError(404, method, path, {});
      return structuredClone(existing) as T;
    }
    if (method === "DELETE") {
      if (!existing) throw new ApiError(404, method, path, {});
      this.secrets.delete(name);
      return {} as T;
    }
    if (!b) throw new ApiError(400, method, path, {});
    if (method === "POST" && existing) throw new ApiError(409, method, path, { reason: "AlreadyExists" });
    if (method === "PUT") {
      if (!existing) throw new ApiError(404, method, path, {});
      if (b.metadata.resourceVersion && b.metadata.resourceVersion !== existing.metadata.resourceVersion)
        throw new ApiError(409, method, path, { reason: "Conflict" });
      if (existing.immutable && JSON.stringify(existing.data) !== JSON.stringify(b.data))
        throw new ApiError(422, method, path, { message: "field is immutable" });
    }
    const stored: FakeSecret = structuredClone({
      ...b,
      metadata: {
        ...b.metadata,
        uid: existing?.metadata.uid ?? randomUUID(),
        resourceVersion: String(this.#rv++),
      },
    });
    this.secrets.set(name, stored);
    return structuredClone(stored) as T;
  };

  /** The client to hand to the code under test. */
  get client() {
    return { send: this.send } as never;
  }
}
