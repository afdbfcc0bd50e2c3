// In a cluster: the snapshot the operator published, watched in its Secret, and keeping
// the last good snapshot serving when the API server or the operator is away.
//
// The Secret holds the snapshot inline, or (ADR 0007) a manifest naming immutable chunk
// Secrets in order. On a manifest, the chunks are fetched (cached by name: a name is a
// digest, so a cached chunk never goes stale), each checked against its digest and the
// whole against the manifest's, and only then handed on: a chunk missing or not matching
// keeps the last good snapshot serving and is retried, and a newer manifest supersedes one
// still being fetched. The gateway needs to read the snapshot Secret (a field selector on
// its name) and get the chunk Secrets in the same namespace.
import type { V1Secret } from "@kubernetes/client-node";
import { decodeSnapshot, SNAPSHOT_SECRET_KEY } from "../api/snapshot/secret-codec.ts";
import type { SnapshotManifest } from "../api/snapshot/snapshot-chunks.ts";
import { assembleSnapshot, chunkBytes, readManifest } from "../api/snapshot/snapshot-chunks.ts";
import type { ApiClient } from "../kubernetes/api-client.ts";
import { createInformer } from "../kubernetes/informer.ts";

export interface SecretSourceOptions {
  client: Pick<ApiClient, "send">;
  namespace: string;
  name: string;
  onSnapshot: (candidate: unknown, source: string) => void;
  onError: (err: unknown) => void;
  /** First retry after a failed chunk fetch; doubles up to 30 s. */
  retryMs?: number;
}

export function watchSnapshotSecret(o: SecretSourceOptions & { client: ApiClient }): {
  stop(): Promise<void>;
} {
  const follower = new SnapshotSecretFollower(o);
  const informer = createInformer<V1Secret>(
    o.client,
    `/api/v1/namespaces/${o.namespace}/secrets`,
    { fieldSelector: `metadata.name=${o.name}` },
    { add: (s) => follower.apply(s), update: (s) => follower.apply(s), error: o.onError },
  );
  void informer.start();
  return {
    stop: async () => {
      follower.stop();
      await informer.stop();
    },
  };
}

const MAX_RETRY_MS = 30_000;

/** Turns each version of the snapshot Secret into a snapshot, fetching chunks when it has them. */
export class SnapshotSecretFollower {
  readonly #o: SecretSourceOptions;
  readonly #source: string;
  /** Verified chunk bytes by name, for the manifest being fetched or served. */
  readonly #chunks = new Map<string, Buffer>();
  /** The manifest to fetch next; undefined once it was handed on (or an inline snapshot came). */
  #wanted: SnapshotManifest | undefined;
  #fetching: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs: number;
  #stopped = false;

  constructor(o: SecretSourceOptions) {
    this.#o = o;
    this.#source = `secret ${o.namespace}/${o.name}`;
    this.#retryMs = o.retryMs ?? 1_000;
  }

  /** A new version of the snapshot Secret. */
  apply(secret: Pick<V1Secret, "data">): void {
    clearTimeout(this.#retryTimer);
    this.#retryMs = this.#o.retryMs ?? 1_000;
    let manifest: SnapshotManifest | undefined;
    try {
      manifest = readManifest(secret.data);
      if (!manifest) {
        this.#wanted = undefined;
        // Neither key: the operator created the Secret to own chunks it is writing; the
        // manifest follows.
        if (secret.data?.[SNAPSHOT_SECRET_KEY] === undefined && Object.keys(secret.data ?? {}).length === 0)
          return;
        this.#o.onSnapshot(decodeSnapshot(secret.data), this.#source);
        return;
      }
    } catch (err) {
      this.#o.onError(err);
      return;
    }
    this.#wanted = manifest;
    this.#fetching ??= this.#fetch().finally(() => {
      this.#fetching = undefined;
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#wanted = undefined;
    clearTimeout(this.#retryTimer);
  }

  /** Resolves once no fetch is running (tests). */
  async settled(): Promise<void> {
    while (this.#fetching) await this.#fetching;
  }

  async #fetch(): Promise<void> {
    while (this.#wanted && !this.#stopped) {
      const manifest = this.#wanted;
      const named = new Set(manifest.chunks.map((c) => c.name));
      for (const name of this.#chunks.keys()) if (!named.has(name)) this.#chunks.delete(name);
      let candidate: unknown;
      try {
        for (const c of manifest.chunks) {
          if (this.#wanted !== manifest) break;
          if (this.#chunks.has(c.name)) continue;
          const secret = await this.#o.client.send<V1Secret>(
            "GET",
            `/api/v1/namespaces/${this.#o.namespace}/secrets/${c.name}`,
          );
          this.#chunks.set(c.name, chunkBytes(c, secret.data));
        }
        if (this.#wanted !== manifest) continue; // superseded while fetching
        candidate = assembleSnapshot(manifest, this.#chunks);
      } catch (err) {
        if (this.#wanted !== manifest || this.#stopped) continue;
        this.#o.onError(err);
        this.#retryLater(manifest);
        return;
      }
      this.#wanted = undefined;
      this.#o.onSnapshot(candidate, `${this.#source} (${manifest.chunks.length} chunks)`);
    }
  }

  #retryLater(manifest: SnapshotManifest): void {
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retryTimer = setTimeout(() => {
      if (this.#wanted !== manifest || this.#stopped) return;
      this.#fetching ??= this.#fetch().finally(() => {
        this.#fetching = undefined;
      });
    }, delay);
    this.#retryTimer.unref();
  }
}
