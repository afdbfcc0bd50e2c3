// The publisher against an in-memory namespace of Secrets: inline while the snapshot fits,
// chunks written before the manifest when it does not, and chunks collected only after the
// manifest moved on and the grace period passed.
import { afterEach, describe, expect, it, vi } from "vitest";
import { SNAPSHOT_SECRET_KEY, SNAPSHOT_VERSION_ANNOTATION } from "../../../core/api/snapshot/secret-codec.ts";
import { CHUNK_OWNER_LABEL, readManifest } from "../../../core/api/snapshot/snapshot-chunks.ts";
import { FakeSecrets } from "../../../test-support/fake-secrets.ts";
import { snapshotWithRoutes } from "../../../test-support/snapshots.ts";
import { SnapshotPublisher } from "./snapshot-publisher.ts";

const NS = "sluice-system";
const NAME = "sluice-snapshot";
const GRACE = 60_000;

const setup = () => {
  const api = new FakeSecrets(NS);
  const errors: unknown[] = [];
  const publisher = new SnapshotPublisher(api.client, NS, NAME, {
    chunkBytes: 1024,
    chunkGraceMs: GRACE,
    onError: (e) => errors.push(e),
  });
  const chunkNames = () =>
    [...api.secrets.values()]
      .filter((s) => s.metadata.labels?.[CHUNK_OWNER_LABEL] === NAME)
      .map((s) => s.metadata.name);
  const manifest = () => readManifest(api.secrets.get(NAME)?.data);
  return { api, publisher, errors, chunkNames, manifest };
};

afterEach(() => {
  vi.useRealTimers();
});

describe("SnapshotPublisher", () => {
  it("writes a small snapshot inline in one Secret, as before chunks, and reads it back", async () => {
    const { api, publisher, chunkNames } = setup();
    const small = snapshotWithRoutes(1);
    expect(await publisher.publish(small)).toBe(true);
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
    expect(Object.keys(api.secrets.get(NAME)?.data ?? {})).toEqual([SNAPSHOT_SECRET_KEY]);
    expect(chunkNames()).toEqual([]);
    expect(await publisher.read()).toEqual(small);
    expect(await publisher.publish(small)).toBe(false);
  });

  it("writes every chunk (immutable, owned by the snapshot Secret) before switching the manifest", async () => {
    const { api, publisher, chunkNames, manifest } = setup();
    const big = snapshotWithRoutes(40);
    expect(await publisher.publish(big)).toBe(true);
    const m = manifest();
    expect(m?.version).toBe(big.version);
    expect(m?.chunks.length).toBeGreaterThan(2);
    expect(chunkNames().sort()).toEqual(m?.chunks.map((c) => c.name).sort());
    const owner = api.secrets.get(NAME);
    for (const c of m?.chunks ?? []) {
      const chunk = api.secrets.get(c.name);
      expect(chunk?.immutable).toBe(true);
      expect(chunk?.metadata.ownerReferences).toEqual([
        { apiVersion: "v1", kind: "Secret", name: NAME, uid: owner?.metadata.uid },
      ]);
    }
    // The owner first (without data, on the very first publish), then the chunks, then the manifest.
    const writes = api.requests.filter((r) => r.method !== "GET");
    expect(writes[0]).toEqual({ method: "POST", path: `/api/v1/namespaces/${NS}/secrets` });
    expect(writes.at(-1)).toEqual({ method: "PUT", path: `/api/v1/namespaces/${NS}/secrets/${NAME}` });
    expect(writes).toHaveLength(1 + (m?.chunks.length ?? 0) + 1);
    expect(owner?.metadata.annotations?.[SNAPSHOT_VERSION_ANNOTATION]).toBe(big.version);
    // A new operator leader reads it back from the chunks.
    const reader = new SnapshotPublisher(api.client, NS, NAME);
    expect(await reader.read()).toEqual(big);
  });

  it("reads back nothing (rather than half a snapshot) when a chunk is missing", async () => {
    const { api, publisher, manifest } = setup();
    await publisher.publish(snapshotWithRoutes(40));
    api.secrets.delete(manifest()?.chunks[1]?.name ?? "");
    expect(await new SnapshotPublisher(api.client, NS, NAME).read()).toBeUndefined();
    // The API server failing is not "nothing published": the caller must not compile without it.
    api.failing = (method, name) => (method === "GET" && name !== NAME ? 503 : undefined);
    await expect(new SnapshotPublisher(api.client, NS, NAME).read()).rejects.toMatchObject({ status: 503 });
  });

  it("fails the publish, leaving the manifest as it was, when a chunk cannot be written", async () => {
    const { api, publisher, manifest } = setup();
    const first = snapshotWithRoutes(40);
    await publisher.publish(first);
    api.failing = (method) => (method === "POST" ? 500 : undefined);
    await expect(publisher.publish(snapshotWithRoutes(40))).rejects.toMatchObject({ status: 500 });
    expect(manifest()?.version).toBe(first.version);
    api.failing = undefined;
    const next = snapshotWithRoutes(40);
    expect(await publisher.publish(next)).toBe(true);
    expect(manifest()?.version).toBe(next.version);
  });

  it("deletes the chunks the manifest no longer names only after the grace period", async () => {
    vi.useFakeTimers();
    const { publisher, chunkNames, manifest, errors } = setup();
    await publisher.publish(snapshotWithRoutes(40));
    const old = manifest()?.chunks.map((c) => c.name) ?? [];
    await vi.advanceTimersByTimeAsync(1000);
    await publisher.publish(snapshotWithRoutes(1)); // back to inline
    expect(chunkNames().sort()).toEqual([...old].sort()); // gateways may be mid-read
    await vi.advanceTimersByTimeAsync(GRACE - 10);
    expect(chunkNames()).toHaveLength(old.length);
    await vi.advanceTimersByTimeAsync(20);
    await publisher.settled();
    expect(chunkNames()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("keeps a retired chunk that a later manifest names again (content-addressed)", async () => {
    vi.useFakeTimers();
    const { publisher, chunkNames, manifest } = setup();
    const a = snapshotWithRoutes(40);
    await publisher.publish(a);
    const aChunks = manifest()?.chunks.map((c) => c.name) ?? [];
    await publisher.publish(snapshotWithRoutes(40));
    await vi.advanceTimersByTimeAsync(GRACE / 2);
    await publisher.publish(a); // back to a: its chunks exist still and are named again
    await vi.advanceTimersByTimeAsync(GRACE * 2);
    await publisher.settled();
    expect(chunkNames().sort()).toEqual([...aChunks].sort());
    expect(manifest()?.version).toBe(a.version);
  });

  it("collects, after the grace period, chunks a previous leader wrote but never named", async () => {
    vi.useFakeTimers();
    const { api, publisher, chunkNames, manifest } = setup();
    // A leader that stopped between its chunks and its manifest.
    const crashed = new SnapshotPublisher(api.client, NS, NAME, { chunkBytes: 1024 });
    api.failing = (method, name) => (method === "PUT" && name === NAME ? 500 : undefined);
    await expect(crashed.publish(snapshotWithRoutes(40))).rejects.toBeDefined();
    api.failing = undefined;
    const orphans = chunkNames();
    expect(orphans.length).toBeGreaterThan(2);
    await publisher.publish(snapshotWithRoutes(40));
    const named = manifest()?.chunks.map((c) => c.name) ?? [];
    expect(chunkNames()).toHaveLength(orphans.length + named.length);
    await vi.advanceTimersByTimeAsync(GRACE + 10);
    await publisher.settled();
    expect(chunkNames().sort()).toEqual([...named].sort());
  });
});
