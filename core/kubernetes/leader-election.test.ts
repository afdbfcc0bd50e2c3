// Leader election on a fake clock and a fake API server: acquire, renew, step down at the
// renew deadline, hand over on stop, and never two leaders. Time is vitest's fake timers
// (setTimeout and performance.now, which the elector measures terms with), so a 15 s lease
// takes no time and every deadline is checked to the millisecond. The real API server's
// side is in e2e/leader-election.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ApiClient, ApiError } from "./api-client.ts";
import { type LeaderElectionOptions, LeaderElector, type LeaseSpec } from "./leader-election.ts";

const PATH = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lock";
const TIMES = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

interface StoredLease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: LeaseSpec;
}

/**
 * The three calls the elector makes on one Lease (GET, POST, PUT), with the API server's
 * answers: 404 when there is none, 409 on a create that exists or a PUT with a stale
 * resourceVersion. Each candidate gets its own client over the same Lease, and can be cut off.
 */
class FakeLeases {
  lease: StoredLease | undefined;
  #version = 0;
  /** Every write, in order: who wrote which holder. */
  readonly writes: { by: string; method: string; holder: string | undefined }[] = [];

  client(who: string): ApiClient & { down: boolean } {
    const store = this;
    const fake = {
      down: false,
      async send<T>(method: string, path: string, body?: unknown): Promise<T> {
        if (fake.down) throw new Error(`${method} ${path}: connect ECONNREFUSED (test partition)`);
        return store.#send(who, method, path, body) as T;
      },
    };
    return fake as unknown as ApiClient & { down: boolean };
  }

  #send(who: string, method: string, path: string, body: unknown): unknown {
    if (method === "GET" && path === PATH) {
      if (!this.lease) throw new ApiError(404, method, path, {});
      return structuredClone(this.lease);
    }
    const sent = body as StoredLease;
    if (method === "POST" && path === PATH.slice(0, PATH.lastIndexOf("/"))) {
      if (this.lease) throw new ApiError(409, method, path, {});
      return this.#store(who, method, sent);
    }
    if (method === "PUT" && path === PATH) {
      if (sent.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
        throw new ApiError(409, method, path, {});
      return this.#store(who, method, sent);
    }
    throw new Error(`unexpected ${method} ${path}`);
  }

  #store(who: string, method: string, sent: StoredLease): StoredLease {
    this.lease = {
      metadata: { name: "lock", namespace: "ns", resourceVersion: String(++this.#version) },
      spec: structuredClone(sent.spec),
    };
    this.writes.push({ by: who, method, holder: sent.spec.holderIdentity });
    return structuredClone(this.lease);
  }

  /** Someone outside the test's electors takes the Lease (a PUT with the current version). */
  takeOver(holder: string): void {
    if (!this.lease) throw new Error("no lease");
    const now = new Date().toISOString().replace("Z", "000Z");
    this.#store("outsider", "PUT", {
      ...this.lease,
      spec: { ...this.lease.spec, holderIdentity: holder, renewTime: now, acquireTime: now },
    });
  }
}

interface Candidate {
  elector: LeaderElector;
  client: ApiClient & { down: boolean };
  /** "started"/"stopped", each with the fake clock's performance.now(). */
  events: [string, number][];
}

let leases: FakeLeases;
let electors: LeaderElector[];

function candidate(identity: string, options: Partial<LeaderElectionOptions> = {}): Candidate {
  const client = leases.client(identity);
  const events: [string, number][] = [];
  const elector = new LeaderElector({
    client,
    namespace: "ns",
    name: "lock",
    identity,
    ...TIMES,
    onStartedLeading: () => events.push(["started", performance.now()]),
    onStoppedLeading: () => events.push(["stopped", performance.now()]),
    ...options,
  });
  electors.push(elector);
  return { elector, client, events };
}

/** Moves the fake clock, running every timer and the promises they start on the way. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"] });
  // No jitter: a candidate retries exactly every retryPeriod, so the tests can count.
  vi.spyOn(Math, "random").mockReturnValue(0);
  leases = new FakeLeases();
  electors = [];
});

afterEach(async () => {
  const stopping = Promise.all(electors.map((e) => e.stop()));
  await vi.runOnlyPendingTimersAsync();
  await stopping;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("LeaderElector on a fake clock", () => {
  it("acquires a Lease that does not exist by creating it, at its first attempt", async () => {
    const a = candidate("a");
    expect(a.elector.isLeader).toBe(false);
    a.elector.start();
    await advance(0);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events).toEqual([["started", 0]]);
    expect(leases.writes).toEqual([{ by: "a", method: "POST", holder: "a" }]);
    expect(leases.lease?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
  });

  it("renews every retryPeriod and stays leader, with one onStartedLeading", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    const firstRenewTime = leases.lease?.spec.renewTime;
    await advance(10 * TIMES.retryPeriodMs);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events).toEqual([["started", 0]]);
    expect(leases.writes.filter((w) => w.method === "PUT")).toHaveLength(10);
    expect(leases.writes.every((w) => w.by === "a" && w.holder === "a")).toBe(true);
    expect(leases.lease?.spec.renewTime).not.toBe(firstRenewTime);
    expect(leases.lease?.spec).toMatchObject({ leaseTransitions: 0, acquireTime: expect.any(String) });
  });

  it("steps down renewDeadline after the start of its last successful renewal", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(4 * TIMES.retryPeriodMs); // renewed at 2, 4, 6 and 8 s
    const lastRenewal = 4 * TIMES.retryPeriodMs;
    a.client.down = true;
    await advance(TIMES.renewDeadlineMs - 1);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events).toEqual([["started", 0]]);
    await advance(1);
    expect(a.elector.isLeader).toBe(false);
    expect(a.events).toEqual([
      ["started", 0],
      ["stopped", lastRenewal + TIMES.renewDeadlineMs],
    ]);
  });

  it("leads again once the API server answers, without a new Lease transition", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    a.client.down = true;
    await advance(TIMES.renewDeadlineMs);
    expect(a.elector.isLeader).toBe(false);
    a.client.down = false;
    await advance(TIMES.retryPeriodMs);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events.map(([e]) => e)).toEqual(["started", "stopped", "started"]);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "a", leaseTransitions: 0 });
  });

  it("steps down when a renewal succeeds only after the renew deadline", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    // The next renewal's GET hangs past the deadline, then succeeds.
    const send = a.client.send.bind(a.client);
    let slow = true;
    a.client.send = (async (...args: Parameters<ApiClient["send"]>) => {
      if (slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, TIMES.renewDeadlineMs + 1));
      }
      return send(...args);
    }) as ApiClient["send"];
    await advance(TIMES.retryPeriodMs + TIMES.renewDeadlineMs + 1);
    expect(a.events).toEqual([
      ["started", 0],
      ["stopped", TIMES.renewDeadlineMs],
    ]);
    expect(a.elector.isLeader).toBe(false);
  });

  it("waits a full leaseDuration from when it first saw another holder's record, whatever its renewTime says", async () => {
    // A dead holder's Lease, renewed "long ago" by the wall clock: skew must not let us in early.
    leases.lease = {
      metadata: { name: "lock", namespace: "ns", resourceVersion: "1" },
      spec: {
        holderIdentity: "dead",
        leaseDurationSeconds: 15,
        renewTime: "2000-01-01T00:00:00.000000Z",
        acquireTime: "2000-01-01T00:00:00.000000Z",
        leaseTransitions: 3,
      },
    };
    const b = candidate("b");
    b.elector.start();
    await advance(TIMES.leaseDurationMs - 1);
    expect(b.elector.isLeader).toBe(false);
    expect(leases.writes).toEqual([]);
    await advance(TIMES.retryPeriodMs);
    expect(b.elector.isLeader).toBe(true);
    expect(leases.lease.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 4 });
  });

  it("steps down at its next renewal when someone else took the Lease", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    await advance(1000);
    leases.takeOver("usurper");
    await advance(TIMES.retryPeriodMs - 1000);
    expect(a.elector.isLeader).toBe(false);
    expect(a.events).toEqual([
      ["started", 0],
      ["stopped", TIMES.retryPeriodMs],
    ]);
    expect(leases.lease?.spec.holderIdentity).toBe("usurper");
  });

  it("releases the Lease on stop, so another candidate leads at its next attempt", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    const b = candidate("b");
    b.elector.start();
    await advance(5 * TIMES.retryPeriodMs);
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([true, false]);

    const stopped = performance.now();
    await a.elector.stop();
    expect(a.events).toEqual([
      ["started", 0],
      ["stopped", stopped],
    ]);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1 });
    await advance(TIMES.retryPeriodMs);
    expect(b.elector.isLeader).toBe(true);
    expect(b.events[0]?.[1]).toBeLessThanOrEqual(stopped + TIMES.retryPeriodMs);
    expect(a.elector.isLeader).toBe(false);
  });

  it("on stop without leading, writes nothing", async () => {
    const a = candidate("a");
    a.elector.start();
    await advance(0);
    const b = candidate("b");
    b.elector.start();
    await advance(TIMES.retryPeriodMs);
    const writes = leases.writes.length;
    await b.elector.stop();
    expect(leases.writes).toHaveLength(writes);
    expect(b.events).toEqual([]);
    expect(a.elector.isLeader).toBe(true);
  });

  it("a partitioned leader steps down before the other candidate takes over: never two leaders", async () => {
    const a = candidate("a");
    const b = candidate("b");
    a.elector.start();
    await advance(0);
    b.elector.start();
    await advance(3 * TIMES.retryPeriodMs);
    a.client.down = true;
    const partitioned = performance.now();
    let bothLed = 0;
    for (let t = 0; t < 2 * TIMES.leaseDurationMs; t += 100) {
      await advance(100);
      if (a.elector.isLeader && b.elector.isLeader) bothLed++;
    }
    expect(bothLed).toBe(0);
    const aStopped = a.events.find(([e]) => e === "stopped")?.[1] ?? Number.NaN;
    const bStarted = b.events.find(([e]) => e === "started")?.[1] ?? Number.NaN;
    expect(aStopped).toBeLessThanOrEqual(partitioned + TIMES.renewDeadlineMs);
    // b counts the lease duration from the last renewal it saw, so it cannot be earlier than this.
    expect(bStarted - aStopped).toBeGreaterThanOrEqual(TIMES.leaseDurationMs - TIMES.renewDeadlineMs);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("of two candidates racing for a Lease that does not exist, exactly one creates it", async () => {
    const a = candidate("a");
    const b = candidate("b");
    a.elector.start();
    b.elector.start();
    await advance(0);
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
    expect(leases.writes.filter((w) => w.method === "POST")).toHaveLength(1);
  });
});
