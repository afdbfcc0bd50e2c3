// A snapshot too big for one Secret travels as content-addressed chunks (ADR 0007): the
// gzipped JSON is cut into pieces of at most CHUNK_BYTES, each stored in an immutable Secret
// named after its SHA-256, and a small manifest in the snapshot Secret lists them in order
// with the digest of the whole. Chunks are written first and the manifest last, so whoever
// follows the manifest finds every chunk it names; a reader assembles only when each chunk
// and the whole match their digests, so a half-written or mixed snapshot is never decoded.
// Small snapshots stay inline (`snapshot.json.gz`, the format before chunks): one object.
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { SourceUnreadableError } from "../errors.ts";
import type { Snapshot } from "./schema.ts";
import { SNAPSHOT_SECRET_KEY } from "./secret-codec.ts";

/** The snapshot Secret's data key holding the manifest (JSON) when the snapshot is chunked. */
export const SNAPSHOT_MANIFEST_KEY = "snapshot.manifest.json";
/** A chunk Secret's one data key: its piece of the gzipped snapshot. */
export const CHUNK_DATA_KEY = "chunk";
/** Label on chunk Secrets: the snapshot Secret they belong to (the operator lists them by it). */
export const CHUNK_OWNER_LABEL = "sluice.dev/snapshot";
/**
 * At most this many gzipped bytes per Secret. The API server refuses a Secret whose data
 * exceeds 1 MiB (and etcd a request above 1.5 MiB); 700 KiB leaves room for metadata and
 * keeps each GET and watch event well under both.
 */
export const CHUNK_BYTES = 700 * 1024;

export interface SnapshotManifest {
  /** The snapshot's version (its content hash), as in the annotation. */
  version: string;
  /** sha256:<hex> of the whole gzipped snapshot, the chunks concatenated in order. */
  digest: string;
  /** Length of the whole gzipped snapshot in bytes. */
  size: number;
  /** In order: the chunk Secrets' names and the sha256:<hex> of their content. */
  chunks: { name: string; digest: string }[];
}

export interface SnapshotChunk {
  name: string;
  digest: string;
  data: Buffer;
}

/** What the snapshot Secret's data holds, and the chunk Secrets to write before it. */
export type EncodedSnapshot =
  | { kind: "inline"; data: Record<string, string>; chunks: [] }
  | { kind: "chunked"; data: Record<string, string>; manifest: SnapshotManifest; chunks: SnapshotChunk[] };

export const sha256 = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * Encodes a snapshot for the Secret named `secretName`: inline when its gzipped JSON fits in
 * one chunk, else as chunks named `<secretName>-<first 20 hex digits of their SHA-256>`.
 */
export function encodeSnapshotParts(
  snapshot: Snapshot,
  secretName: string,
  chunkBytes = CHUNK_BYTES,
): EncodedSnapshot {
  const gz = gzipSync(JSON.stringify(snapshot));
  if (gz.length <= chunkBytes)
    return { kind: "inline", data: { [SNAPSHOT_SECRET_KEY]: gz.toString("base64") }, chunks: [] };
  const chunks: SnapshotChunk[] = [];
  for (let at = 0; at < gz.length; at += chunkBytes) {
    const data = gz.subarray(at, at + chunkBytes);
    const digest = sha256(data);
    chunks.push({ name: chunkName(secretName, digest), digest, data });
  }
  const manifest: SnapshotManifest = {
    version: snapshot.version,
    digest: sha256(gz),
    size: gz.length,
    chunks: chunks.map(({ name, digest }) => ({ name, digest })),
  };
  return {
    kind: "chunked",
    data: { [SNAPSHOT_MANIFEST_KEY]: Buffer.from(JSON.stringify(manifest)).toString("base64") },
    manifest,
    chunks,
  };
}

/**
 * 20 hex digits (80 bits) of the digest: a collision between two chunks of one installation
 * is out of reach, and the reader checks the full digest anyway.
 */
export function chunkName(secretName: string, digest: string): string {
  return `${secretName}-${digest.slice("sha256:".length, "sha256:".length + 20)}`;
}

/**
 * The manifest in a snapshot Secret's data, or undefined when the Secret holds the snapshot
 * inline. Throws SLUICE_SOURCE_UNREADABLE when the manifest is not one.
 */
export function readManifest(data: Record<string, string> | undefined): SnapshotManifest | undefined {
  const encoded = data?.[SNAPSHOT_MANIFEST_KEY];
  if (encoded === undefined || data?.[SNAPSHOT_SECRET_KEY] !== undefined) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  } catch (err) {
    throw new SourceUnreadableError(`${SNAPSHOT_MANIFEST_KEY} is not JSON: ${(err as Error).message}`);
  }
  if (!isManifest(m)) throw new SourceUnreadableError(`${SNAPSHOT_MANIFEST_KEY} is not a snapshot manifest`);
  return m;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function isManifest(m: unknown): m is SnapshotManifest {
  const v = m as Partial<SnapshotManifest> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.version === "string" &&
    typeof v.digest === "string" &&
    DIGEST.test(v.digest) &&
    Number.isSafeInteger(v.size) &&
    Array.isArray(v.chunks) &&
    v.chunks.length > 0 &&
    v.chunks.every(
      (c) =>
        typeof c?.name === "string" && c.name !== "" && typeof c.digest === "string" && DIGEST.test(c.digest),
    )
  );
}

/** A chunk Secret's bytes, checked against the digest the manifest gives for it. */
export function chunkBytes(
  chunk: { name: string; digest: string },
  data: Record<string, string> | undefined,
): Buffer {
  const encoded = data?.[CHUNK_DATA_KEY];
  if (encoded === undefined)
    throw new SourceUnreadableError(`chunk Secret ${chunk.name} has no ${CHUNK_DATA_KEY}`);
  const bytes = Buffer.from(encoded, "base64");
  if (sha256(bytes) !== chunk.digest)
    throw new SourceUnreadableError(`chunk Secret ${chunk.name} does not match its digest ${chunk.digest}`);
  return bytes;
}

/**
 * The snapshot (unvalidated: the loader checks schema and version) from the manifest's
 * chunks, in the manifest's order. Throws SLUICE_SOURCE_UNREADABLE naming the first chunk
 * that is missing or does not match, or when the whole does not match the manifest.
 */
export function assembleSnapshot(manifest: SnapshotManifest, chunks: ReadonlyMap<string, Buffer>): unknown {
  const parts: Buffer[] = [];
  for (const c of manifest.chunks) {
    const bytes = chunks.get(c.name);
    if (!bytes) throw new SourceUnreadableError(`snapshot ${manifest.version}: chunk ${c.name} is missing`);
    if (sha256(bytes) !== c.digest)
      throw new SourceUnreadableError(
        `snapshot ${manifest.version}: chunk ${c.name} does not match its digest`,
      );
    parts.push(bytes);
  }
  const whole = Buffer.concat(parts);
  if (whole.length !== manifest.size || sha256(whole) !== manifest.digest)
    throw new SourceUnreadableError(
      `snapshot ${manifest.version}: the chunks do not add up to ${manifest.digest} (${manifest.size} bytes)`,
    );
  return JSON.parse(gunzipSync(whole).toString("utf8"));
}
