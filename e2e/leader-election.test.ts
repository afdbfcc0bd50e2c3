// Leader election on a real kube-apiserver: a lone elector creates and takes the Lease,
// two electors never lead at once, a stopped leader hands over at once (release), a
// partitioned leader steps down before the other takes over after the lease duration,
// and a leader whose Lease is taken by someone else notices at its next renewal.
import { randomBytes } from "node:crypto";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import {
  type LeaderElectionOptions,
  LeaderElector,
  type LeaseSpec,
} from "../core/kubernetes/leader-election.ts";
import { sleep, timeUntil } from "../test-support/index.ts";
import { KubeClient } from "./harness/kube-client.ts";

const NAMESPACE = "default";
const FAST = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 };

/** An ApiClient whose requests can be made to fail, as if the replica lost the API server. */
class PartitionableClient extends ApiClient {
  down = false;

  override send<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> {
    if (this.down)
      return Promise.reject(new Error(`${method} ${path}: connect ECONNREFUSED (test partition)`));
    return super.send<T>(method, path, body, contentType);
  }
}

interface Candidate {
  id: string;
  elector: LeaderElector;
  client: PartitionableClient;
  /** "started"/"stopped" with performance.now() times, in callback order. */
  events: { event: "started" | "stopped"; at: number }[];
}

let kube: KubeClient;
let kubeconfig: string;
const running: Candidate[] = [];

beforeAll(() => {
  kubeconfig = inject("kubeconfig");
  kube = new KubeClient(kubeconfig);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.elector.stop()));
});

function leaseName(label: string): string {
  return `le-${label}-${randomBytes(3).toString("hex")}`;
}

function candidate(
  id: string,
  name: string,
  timing: Partial<Pick<LeaderElectionOptions, "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs">>,
): Candidate {
  const client = new PartitionableClient(ApiClient.load(kubeconfig).access);
  const events: Candidate["events"] = [];
  const elector = new LeaderElector({
    client,
    namespace: NAMESPACE,
    name,
    identity: id,
    ...timing,
    onStartedLeading: () => events.push({ event: "started", at: performance.now() }),
    onStoppedLeading: () => events.push({ event: "stopped", at: performance.now() }),
  });
  const c = { id, elector, client, events };
  running.push(c);
  return c;
}

async function readLease(name: string): Promise<LeaseSpec> {
  const res = await kube.send("GET", `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${name}`);
  expect(res.status).toBe(200);
  return (res.body.spec ?? {}) as LeaseSpec;
}

/** Polls until cond() holds; returns the milliseconds it took. */
const waitFor = (what: string, cond: () => boolean, timeoutMs: number): Promise<number> =>
  timeUntil(what, cond, { timeoutMs });

/** Samples isLeader every 10 ms for durationMs; returns each sample's leader count. */
async function sampleLeaders(candidates: Candidate[], durationMs: number): Promise<number[]> {
  const counts: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    counts.push(candidates.filter((c) => c.elector.isLeader).length);
    await sleep(10);
  }
  return counts;
}

const eventNames = (c: Candidate) => c.events.map((e) => e.event);
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe("leader election on a Lease", () => {
  it("creates the Lease and leads at once when alone, and releases it on stop", async () => {
    const name = leaseName("solo");
    const solo = candidate("solo-0", name, {});
    solo.elector.start();
    const took = await waitFor("solo leads", () => solo.elector.isLeader, 1000);
    expect(took).toBeLessThan(1000);
    const spec = await readLease(name);
    expect(spec).toMatchObject({ holderIdentity: "solo-0", leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.renewTime).toMatch(MICRO_TIME);
    expect(spec.acquireTime).toBe(spec.renewTime);

    await solo.elector.stop();
    expect(solo.elector.isLeader).toBe(false);
    expect(eventNames(solo)).toEqual(["started", "stopped"]);
    const released = await readLease(name);
    expect(released.holderIdentity ?? "").toBe("");
    expect(released.leaseTransitions).toBe(0);
  });

  it("lets exactly one of two electors lead, and hands over at once when the leader stops", async () => {
    const name = leaseName("pair");
    const a = candidate("pair-a", name, FAST);
    const b = candidate("pair-b", name, FAST);
    a.elector.start();
    b.elector.start();
    await waitFor("someone leads", () => a.elector.isLeader || b.elector.isLeader, 1000);
    const counts = await sampleLeaders([a, b], 2000);
    expect(counts.length).toBeGreaterThan(100);
    expect(counts.every((n) => n === 1)).toBe(true);

    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    expect(eventNames(leader)).toEqual(["started"]);
    expect(eventNames(follower)).toEqual([]);
    expect((await readLease(name)).holderIdentity).toBe(leader.id);

    await leader.elector.stop();
    const stoppedAt = performance.now();
    expect(eventNames(leader)).toEqual(["started", "stopped"]);
    expect(leader.elector.isLeader).toBe(false);
    const handover = await waitFor("follower leads after release", () => follower.elector.isLeader, 1500);
    expect(handover).toBeLessThan(1000);
    expect(follower.events[0]?.at).toBeGreaterThan(stoppedAt);
    expect(await readLease(name)).toMatchObject({
      holderIdentity: follower.id,
      leaseDurationSeconds: 2,
      leaseTransitions: 1,
    });
  });

  it("steps a partitioned leader down, then lets the other take over after the lease duration", async () => {
    const name = leaseName("partition");
    const c = candidate("part-c", name, FAST);
    const d = candidate("part-d", name, FAST);
    c.elector.start();
    d.elector.start();
    await waitFor("someone leads", () => c.elector.isLeader || d.elector.isLeader, 1000);
    // Let the follower observe a few renewals first.
    await sleep(500);
    const [leader, follower] = c.elector.isLeader ? [c, d] : [d, c];
    expect((await readLease(name)).holderIdentity).toBe(leader.id);

    leader.client.down = true;
    const cutAt = performance.now();
    const sampling = sampleLeaders([c, d], 3500);
    const stepDown = await waitFor("partitioned leader steps down", () => leader.events.length === 2, 2000);
    expect(stepDown).toBeLessThanOrEqual(FAST.renewDeadlineMs + 50);
    await waitFor("follower takes over", () => follower.elector.isLeader, 4000);
    const takeoverMs = performance.now() - cutAt;
    // The lease (2 s: 1500 ms rounded up to whole seconds) must run out first, counted
    // from the follower's last sight of a renewal (at most ~one retry period before the cut).
    expect(takeoverMs).toBeGreaterThan(1400);
    expect(takeoverMs).toBeLessThan(3000);
    expect(eventNames(leader)).toEqual(["started", "stopped"]);
    expect(eventNames(follower)).toEqual(["started"]);
    expect(leader.events[1]?.at).toBeLessThan(follower.events[0]?.at ?? 0);
    expect((await sampling).every((n) => n <= 1)).toBe(true);
    expect(await readLease(name)).toMatchObject({ holderIdentity: follower.id, leaseTransitions: 1 });

    // Back online, the old leader finds the lease taken and stays a follower.
    leader.client.down = false;
    await sleep(700);
    expect(leader.elector.isLeader).toBe(false);
    expect(eventNames(leader)).toEqual(["started", "stopped"]);
    expect(follower.elector.isLeader).toBe(true);
    expect((await readLease(name)).holderIdentity).toBe(follower.id);
  });

  it("stops leading at the next renewal when another identity takes the Lease", async () => {
    const name = leaseName("intruder");
    const e = candidate("intr-e", name, FAST);
    const f = candidate("intr-f", name, FAST);
    e.elector.start();
    f.elector.start();
    await waitFor("someone leads", () => e.elector.isLeader || f.elector.isLeader, 1000);
    const leader = e.elector.isLeader ? e : f;

    // An admin (or another controller) overwrites the holder; retry on renewal races.
    const path = `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${name}`;
    for (let i = 0; ; i++) {
      const lease = (await kube.send("GET", path)).body as { spec: LeaseSpec };
      const now = new Date().toISOString().replace("Z", "000Z");
      const spec = { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 1, renewTime: now };
      const res = await kube.send("PUT", path, { ...lease, spec });
      if (res.status === 200) break;
      expect(res.status).toBe(409);
      expect(i).toBeLessThan(5);
    }
    const overwrittenAt = performance.now();
    const noticed = await waitFor("leader notices", () => leader.events.length === 2, 1500);
    expect(noticed).toBeLessThan(FAST.renewDeadlineMs);
    expect(e.elector.isLeader || f.elector.isLeader).toBe(false);
    expect((await readLease(name)).holderIdentity).toBe("intruder");

    // The intruder never renews: after its 1 s lease one of the two takes over again.
    await waitFor("someone leads again", () => e.elector.isLeader || f.elector.isLeader, 2500);
    expect(performance.now() - overwrittenAt).toBeGreaterThan(900);
    const next = e.elector.isLeader ? e : f;
    expect(await readLease(name)).toMatchObject({ holderIdentity: next.id, leaseTransitions: 1 });
  });
});
