// Publishes the snapshot into its Secret, so gateways start and serve from it even while
// the operator is down. Writes only when the version changed.
//
// A snapshot whose gzipped JSON fits in one Secret is written inline, as before chunks
// existed. A bigger one (ADR 0007) goes first into immutable, content-addressed chunk
// Secrets, then the snapshot Secret is switched in one write to a manifest naming them: a
// gateway follows the manifest, so it never sees a half-written snapshot. Chunks no
// manifest names are deleted after a grace period, since a gateway may still be fetching
// them; each carries an owner reference to the snapshot Secret, so deleting it removes them.

import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import { decodeSnapshot, SNAPSHOT_VERSION_ANNOTATION } from "../../../core/api/snapshot/secret-codec.ts";
import {
  assembleSnapshot,
  CHUNK_BYTES,
  CHUNK_DATA_KEY,
  CHUNK_OWNER_LABEL,
  chunkBytes,
  encodeSnapshotParts,
  readManifest,
  type SnapshotChunk,
  type SnapshotManifest,
} from "../../../core/api/snapshot/snapshot-chunks.ts";
import { snapshotProblems } from "../../../core/api/snapshot/validate.ts";
import { type ApiClient, ApiError, METADATA_ONLY } from "../../../core/kubernetes/api-client.ts";

interface SecretObject {
  metadata: {
    name?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
}

export interface SnapshotPublisherOptions {
  /** Gzipped bytes per Secret; bigger snapshots are chunked. */
  chunkBytes?: number;
  /**
   * How long a chunk stays after no manifest names it, for gateways still fetching the
   * previous snapshot (a fetch takes one GET per chunk; a minute is many times that).
   */
  chunkGraceMs?: number;
  /** Chunk clean-up failed (it is retried with the next publish or grace period). */
  onError?: (err: unknown) => void;
}

const LABELS = { "app.kubernetes.io/part-of": "sluice", "app.kubernetes.io/component": "snapshot" };

export class SnapshotPublisher {
  readonly #client: ApiClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #chunkBytes: number;
  readonly #graceMs: number;
  readonly #onError: (err: unknown) => void;
  #published: string | undefined;
  /** Chunks no manifest names any more, and since when (ms). */
  readonly #retired = new Map<string, number>();
  /** Whether this replica has looked for chunks a previous writer left unreferenced. */
  #swept = false;
  #gcTimer: NodeJS.Timeout | undefined;
  #collecting: Promise<void> | undefined;

  constructor(client: ApiClient, namespace: string, name: string, options: SnapshotPublisherOptions = {}) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
    this.#chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
    this.#graceMs = options.chunkGraceMs ?? 60_000;
    this.#onError = options.onError ?? (() => {});
  }

  get #secrets(): string {
    return `/api/v1/namespaces/${this.#namespace}/secrets`;
  }

  /**
   * The snapshot the Secret holds now — what the gateways serve, so the last good version of
   * every object — or undefined when there is none or it does not validate (a chunk missing
   * or not matching included). Throws when the API server cannot answer: compiling without
   * it could drop what is kept at its last good.
   */
  async read(): Promise<Snapshot | undefined> {
    const secret = await this.#get(this.#name);
    if (!secret) return undefined;
    let candidate: unknown;
    try {
      const manifest = readManifest(secret.data);
      candidate = manifest ? await this.#assemble(manifest) : decodeSnapshot(secret.data);
    } catch (err) {
      if (err instanceof ApiError && err.status !== 404) throw err;
      return undefined;
    }
    return snapshotProblems(candidate).length === 0 ? (candidate as Snapshot) : undefined;
  }

  /** Writes the snapshot unless the Secret already holds this version; true when written. */
  async publish(snapshot: Snapshot): Promise<boolean> {
    if (this.#published === snapshot.version) return false;
    let current = await this.#get(this.#name);
    if (current?.metadata.annotations?.[SNAPSHOT_VERSION_ANNOTATION] === snapshot.version) {
      this.#published = snapshot.version;
      return false;
    }
    const encoded = encodeSnapshotParts(snapshot, this.#name, this.#chunkBytes);
    let previous: SnapshotManifest | undefined;
    try {
      previous = current ? readManifest(current.data) : undefined;
    } catch {
      // Not a manifest we can read: nothing of it to retire; the sweep finds its chunks.
    }
    if (encoded.kind === "chunked") {
      // The chunks' owner: the snapshot Secret, created first (annotated, without data, which
      // gateways skip) when this is the very first publish.
      current ??= await this.#client.send<SecretObject>("POST", this.#secrets, this.#body({}, "pending"));
      for (const chunk of encoded.chunks) {
        await this.#writeChunk(chunk, current);
        this.#retired.delete(chunk.name);
      }
    }
    const body = this.#body(encoded.data, snapshot.version, current?.metadata.resourceVersion);
    if (current) await this.#client.send("PUT", `${this.#secrets}/${this.#name}`, body);
    else await this.#client.send("POST", this.#secrets, body);
    this.#published = snapshot.version;

    const now = Date.now();
    const named = new Set(encoded.chunks.map((c) => c.name));
    for (const c of previous?.chunks ?? [])
      if (!named.has(c.name) && !this.#retired.has(c.name)) this.#retired.set(c.name, now);
    if (encoded.kind === "chunked" && !this.#swept) {
      this.#swept = true;
      await this.#sweep(named, now).catch((err) => {
        this.#swept = false;
        this.#onError(err);
      });
    }
    this.#scheduleCollect();
    return true;
  }

  #body(data: Record<string, string>, version: string, resourceVersion?: string) {
    return {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name: this.#name,
        namespace: this.#namespace,
        labels: LABELS,
        annotations: { [SNAPSHOT_VERSION_ANNOTATION]: version },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      data,
    };
  }

  /** Creates a chunk Secret; one that exists already has the same content (its name is its digest). */
  async #writeChunk(chunk: SnapshotChunk, owner: SecretObject): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      immutable: true,
      metadata: {
        name: chunk.name,
        namespace: this.#namespace,
        labels: {
          ...LABELS,
          "app.kubernetes.io/component": "snapshot-chunk",
          [CHUNK_OWNER_LABEL]: this.#name,
        },
        annotations: { "sluice.dev/chunk-digest": chunk.digest },
        ...(owner.metadata.uid
          ? {
              ownerReferences: [
                { apiVersion: "v1", kind: "Secret", name: this.#name, uid: owner.metadata.uid },
              ],
            }
          : {}),
      },
      data: { [CHUNK_DATA_KEY]: chunk.data.toString("base64") },
    };
    try {
      await this.#client.send("POST", this.#secrets, body);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      // Same name, so the same digest — unless someone wrote another object under it.
      const existing = await this.#get(chunk.name);
      try {
        chunkBytes(chunk, existing?.data);
      } catch {
        await this.#client.send("DELETE", `${this.#secrets}/${chunk.name}`);
        await this.#client.send("POST", this.#secrets, body);
      }
    }
  }

  async #assemble(manifest: SnapshotManifest): Promise<unknown> {
    const parts = new Map<string, Buffer>();
    for (const c of manifest.chunks) {
      const secret = await this.#get(c.name);
      if (secret) parts.set(c.name, chunkBytes(c, secret.data));
    }
    return assembleSnapshot(manifest, parts);
  }

  async #get(name: string): Promise<SecretObject | undefined> {
    try {
      return await this.#client.send<SecretObject>("GET", `${this.#secrets}/${name}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Once per replica: chunks a previous writer left behind (it stopped between writing them
   * and switching the manifest, or before their grace period ran out) count as retired from
   * now, so a chunk another gateway might be reading still gets its whole grace period.
   */
  async #sweep(named: ReadonlySet<string>, now: number): Promise<void> {
    // Names only: the chunks' data (the size of a snapshot or two) need not travel.
    const list = await this.#client.send<{ items: SecretObject[] }>(
      "GET",
      `${this.#secrets}?labelSelector=${encodeURIComponent(`${CHUNK_OWNER_LABEL}=${this.#name}`)}`,
      undefined,
      "application/json",
      METADATA_ONLY.list,
    );
    for (const s of list.items) {
      const name = s.metadata.name;
      if (name && !named.has(name) && !this.#retired.has(name)) this.#retired.set(name, now);
    }
  }

  /** Runs #collect when the oldest retired chunk's grace period ends (after a failure: later). */
  #scheduleCollect(notBefore = 0): void {
    clearTimeout(this.#gcTimer);
    if (this.#retired.size === 0) return;
    const due = Math.max(Math.min(...this.#retired.values()) + this.#graceMs, notBefore);
    this.#gcTimer = setTimeout(
      () => {
        let failed = false;
        this.#collecting ??= this.#collect()
          .catch((err) => {
            failed = true;
            this.#onError(err);
          })
          .finally(() => {
            this.#collecting = undefined;
            this.#scheduleCollect(failed ? Date.now() + Math.min(this.#graceMs, 10_000) : 0);
          });
      },
      Math.max(0, due - Date.now()),
    );
    this.#gcTimer.unref();
  }

  /**
   * Deletes the chunks retired for longer than the grace period — except those the manifest
   * names now (content-addressed: going back to an earlier configuration names them again,
   * possibly written by another replica that led since).
   */
  async #collect(): Promise<void> {
    const due = [...this.#retired].filter(([, since]) => Date.now() - since >= this.#graceMs).map(([n]) => n);
    if (due.length === 0) return;
    const manifest = readManifest((await this.#get(this.#name))?.data);
    const named = new Set(manifest?.chunks.map((c) => c.name));
    for (const name of due) {
      if (!named.has(name)) {
        try {
          await this.#client.send("DELETE", `${this.#secrets}/${name}`);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
        }
      }
      this.#retired.delete(name);
    }
  }

  /** Waits for a clean-up in progress (tests). */
  async settled(): Promise<void> {
    await this.#collecting;
  }
}
