// The gateway side of chunked snapshots: a manifest is handed on only once every chunk it
// names is fetched and matches; a missing chunk keeps the last good snapshot and is retried;
// a newer manifest supersedes one still being fetched.
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeSecrets } from "../../test-support/fake-secrets.ts";
import { snapshotWithRoutes } from "../../test-support/snapshots.ts";
import type { Snapshot } from "../api/snapshot/schema.ts";
import { CHUNK_DATA_KEY, encodeSnapshotParts } from "../api/snapshot/snapshot-chunks.ts";
import { SnapshotSecretFollower } from "./secret-source.ts";

const NS = "sluice-system";
const NAME = "sluice-snapshot";

/** Stores a snapshot's chunks (as the operator does) and returns the manifest Secret's data. */
function publish(api: FakeSecrets, snapshot: Snapshot, chunks = true) {
  const encoded = encodeSnapshotParts(snapshot, NAME, chunks ? 1024 : undefined);
  for (const c of encoded.chunks)
    api.secrets.set(c.name, {
      metadata: { name: c.name },
      immutable: true,
      data: { [CHUNK_DATA_KEY]: c.data.toString("base64") },
    });
  return { data: encoded.data, chunks: encoded.chunks.map((c) => c.name) };
}

const setup = () => {
  const api = new FakeSecrets(NS);
  const loaded: unknown[] = [];
  const errors: string[] = [];
  const follower = new SnapshotSecretFollower({
    client: api.client,
    namespace: NS,
    name: NAME,
    onSnapshot: (s) => loaded.push(s),
    onError: (e) => errors.push(String(e)),
    retryMs: 1000,
  });
  return { api, follower, loaded, errors };
};

afterEach(() => {
  vi.useRealTimers();
});

describe("SnapshotSecretFollower", () => {
  it("hands on an inline snapshot at once (the format of operators before chunks)", () => {
    const { api, follower, loaded } = setup();
    const s = snapshotWithRoutes(1);
    follower.apply(publish(api, s, false));
    expect(loaded).toEqual([s]);
    expect(api.requests).toEqual([]);
  });

  it("fetches each chunk once, then hands on the whole snapshot", async () => {
    const { api, follower, loaded, errors } = setup();
    const s = snapshotWithRoutes(40);
    const { data, chunks } = publish(api, s);
    follower.apply({ data });
    await follower.settled();
    expect(loaded).toEqual([s]);
    expect(errors).toEqual([]);
    expect(api.requests.map((r) => r.path.split("/").at(-1))).toEqual(chunks);
    // The same manifest again (a relist): the chunks come from the cache.
    follower.apply({ data });
    await follower.settled();
    expect(loaded).toEqual([s, s]);
    expect(api.requests).toHaveLength(chunks.length);
  });

  it("keeps the last good snapshot while a chunk is missing, and retries until it appears", async () => {
    vi.useFakeTimers();
    const { api, follower, loaded, errors } = setup();
    const good = snapshotWithRoutes(1);
    follower.apply(publish(api, good, false));
    const next = snapshotWithRoutes(40);
    const { data, chunks } = publish(api, next);
    const last = chunks.at(-1) as string;
    const held = api.secrets.get(last);
    api.secrets.delete(last);
    follower.apply({ data });
    await follower.settled();
    expect(loaded).toEqual([good]); // never a partial one
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("404");
    await vi.advanceTimersByTimeAsync(1000); // retried: still missing
    await follower.settled();
    expect(errors).toHaveLength(2);
    api.secrets.set(last, held as never);
    await vi.advanceTimersByTimeAsync(2000); // backoff doubled
    await follower.settled();
    expect(loaded).toEqual([good, next]);
  });

  it("refuses a chunk that does not match the manifest's digest", async () => {
    const { api, follower, loaded, errors } = setup();
    const { data, chunks } = publish(api, snapshotWithRoutes(40));
    const other = publish(api, snapshotWithRoutes(40));
    const victim = api.secrets.get(chunks[0] as string);
    if (victim) victim.data = api.secrets.get(other.chunks[0] as string)?.data ?? {};
    follower.apply({ data });
    await follower.settled();
    expect(loaded).toEqual([]);
    expect(errors[0]).toMatch(/does not match its digest/);
    follower.stop();
  });

  it("drops a manifest superseded while its chunks were being fetched", async () => {
    const { api, follower, loaded } = setup();
    const a = publish(api, snapshotWithRoutes(40));
    const b = snapshotWithRoutes(40);
    const bData = publish(api, b).data;
    let gets = 0;
    api.failing = () => {
      if (++gets === 2) follower.apply({ data: bData }); // the manifest moved on mid-fetch
      return undefined;
    };
    follower.apply({ data: a.data });
    await follower.settled();
    expect(loaded).toEqual([b]);
  });

  it("skips the snapshot Secret while it has no data yet (the operator is writing the first chunks)", () => {
    const { follower, loaded, errors } = setup();
    follower.apply({ data: {} });
    follower.apply({});
    expect(loaded).toEqual([]);
    expect(errors).toEqual([]);
  });
});
