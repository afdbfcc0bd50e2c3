import { describe, expect, it } from "vitest";
import { snapshotWithRoutes } from "../../../test-support/snapshots.ts";
import { decodeSnapshot, SNAPSHOT_SECRET_KEY } from "./secret-codec.ts";
import {
  assembleSnapshot,
  CHUNK_DATA_KEY,
  chunkBytes,
  encodeSnapshotParts,
  readManifest,
  SNAPSHOT_MANIFEST_KEY,
  type SnapshotChunk,
  type SnapshotManifest,
} from "./snapshot-chunks.ts";

// A snapshot whose gzipped JSON is several kilobytes: route paths that do not compress.
const snapshot = snapshotWithRoutes(60);
const CHUNK = 1024;
const encoded = encodeSnapshotParts(snapshot, "sluice-snapshot", CHUNK);
if (encoded.kind !== "chunked") throw new Error("the fixture should need several chunks");
const { manifest, chunks } = encoded;
const byName = (list: SnapshotChunk[]) => new Map(list.map((c) => [c.name, c.data]));

describe("encodeSnapshotParts", () => {
  it("keeps a snapshot that fits in one chunk inline, in the format before chunks", () => {
    const small = encodeSnapshotParts(snapshot, "sluice-snapshot");
    expect(small.kind).toBe("inline");
    expect(small.chunks).toEqual([]);
    expect(Object.keys(small.data)).toEqual([SNAPSHOT_SECRET_KEY]);
    expect(decodeSnapshot(small.data)).toEqual(snapshot);
    expect(readManifest(small.data)).toBeUndefined();
  });

  it("cuts a bigger one into chunks named after their digests, listed in a manifest", () => {
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.data.length).toBeLessThanOrEqual(CHUNK);
      expect(c.name).toBe(`sluice-snapshot-${c.digest.slice(7, 27)}`);
    }
    expect(manifest.version).toBe(snapshot.version);
    expect(manifest.size).toBe(chunks.reduce((n, c) => n + c.data.length, 0));
    expect(Object.keys(encoded.data)).toEqual([SNAPSHOT_MANIFEST_KEY]);
    expect(readManifest(encoded.data)).toEqual(manifest);
  });

  it("gives the same snapshot the same chunks (content-addressed)", () => {
    const again = encodeSnapshotParts(snapshot, "sluice-snapshot", CHUNK);
    expect(again.chunks.map((c) => c.name)).toEqual(chunks.map((c) => c.name));
  });
});

describe("assembleSnapshot", () => {
  it("reassembles the snapshot in the manifest's order, whatever order the chunks came in", () => {
    expect(assembleSnapshot(manifest, byName([...chunks].reverse()))).toEqual(snapshot);
  });

  it("refuses a missing chunk, naming it", () => {
    const missing = chunks[1] as SnapshotChunk;
    const parts = byName(chunks.filter((c) => c !== missing));
    expect(() => assembleSnapshot(manifest, parts)).toThrow(
      expect.objectContaining({
        code: "SLUICE_SOURCE_UNREADABLE",
        message: expect.stringContaining(missing.name),
      }),
    );
  });

  it("refuses a chunk whose content does not match its digest", () => {
    const parts = byName(chunks);
    const first = chunks[0] as SnapshotChunk;
    const tampered = Buffer.from(first.data);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    parts.set(first.name, tampered);
    expect(() => assembleSnapshot(manifest, parts)).toThrow(/does not match its digest/);
  });

  it("refuses chunks in the wrong order, or a whole that is not the manifest's", () => {
    const swapped: SnapshotManifest = {
      ...manifest,
      chunks: [
        manifest.chunks[1],
        manifest.chunks[0],
        ...manifest.chunks.slice(2),
      ] as SnapshotManifest["chunks"],
    };
    expect(() => assembleSnapshot(swapped, byName(chunks))).toThrow(/do not add up/);
    // Chunks of another snapshot under a manifest that names them: each chunk matches, the whole does not.
    const other = encodeSnapshotParts(snapshotWithRoutes(60), "sluice-snapshot", CHUNK);
    const mixed = { ...manifest, chunks: other.chunks.map(({ name, digest }) => ({ name, digest })) };
    expect(() => assembleSnapshot(mixed, byName(other.chunks))).toThrow(/do not add up/);
  });
});

describe("readManifest and chunkBytes", () => {
  it.each([
    ["not JSON", "{"],
    ["no chunks", JSON.stringify({ ...manifest, chunks: [] })],
    ["a bad digest", JSON.stringify({ ...manifest, digest: "md5:x" })],
  ])("refuses a manifest with %s", (_, text) => {
    expect(() => readManifest({ [SNAPSHOT_MANIFEST_KEY]: Buffer.from(text).toString("base64") })).toThrow(
      expect.objectContaining({ code: "SLUICE_SOURCE_UNREADABLE" }),
    );
  });

  it("checks a chunk Secret's data against the manifest's digest", () => {
    const [a, b] = chunks as [SnapshotChunk, SnapshotChunk];
    expect(chunkBytes(a, { [CHUNK_DATA_KEY]: a.data.toString("base64") })).toEqual(a.data);
    expect(() => chunkBytes(a, { [CHUNK_DATA_KEY]: b.data.toString("base64") })).toThrow(/does not match/);
    expect(() => chunkBytes(a, {})).toThrow(/has no chunk/);
  });
});
