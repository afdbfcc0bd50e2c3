// The reconcile loop on fake timers, with a fake cluster: an in-memory store of objects that
// also answers the API requests of the real SnapshotPublisher and StatusWriter.
import type { KubernetesObject } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { API_KEY_USAGE_ANNOTATION, SERVING_ANNOTATION } from "../../core/api/replica-report.ts";
import type { Snapshot } from "../../core/api/snapshot/schema.ts";
import {
  decodeSnapshot,
  SNAPSHOT_SECRET_KEY,
  SNAPSHOT_VERSION_ANNOTATION,
} from "../../core/api/snapshot/secret-codec.ts";
import { compileSnapshot } from "../../core/compile/compile.ts";
import { type ApiClient, ApiError } from "../../core/kubernetes/api-client.ts";
import { OperatorMetrics } from "./operator-metrics.ts";
import { SnapshotPublisher } from "./publish/snapshot-publisher.ts";
import { ReconcileLoop, type ReconcileLoopOptions } from "./reconcile-loop.ts";
import { StatusWriter } from "./status/status-writer.ts";

const NS = "sluice-system";
const SECRET_PATH = `/api/v1/namespaces/${NS}/secrets/sluice-snapshot`;
const DEBOUNCE = 100;
const HASH_KEY = "test-hash-key";
const START = Date.parse("2026-11-22T12:00:00Z");
/** Well-formed, but not the hash of the snapshot's content. */
const FORGED = `sha256:${"0".repeat(64)}`;

interface Request {
  at: number;
  method: string;
  path: string;
  body?: unknown;
}

/** The objects the informers would cache, and an API server in front of them. */
class FakeCluster {
  synced = true;
  readonly objects_ = new Map<string, KubernetesObject & { status?: unknown }>();
  readonly secrets = new Map<string, { metadata: Record<string, unknown>; data?: Record<string, string> }>();
  readonly requests: Request[] = [];
  /** Requests to fail with a 500, matched by method and path prefix. */
  failing: { method: string; path: string } | undefined;
  /** While set, requests whose path starts with gate.path wait for gate.wait. */
  gate: { path: string; wait: Promise<void> } | undefined;
  #rv = 1;

  apply(...objs: KubernetesObject[]) {
    for (const o of objs)
      this.objects_.set(key(o.kind ?? "", o.metadata?.namespace ?? "", o.metadata?.name ?? ""), {
        ...o,
        metadata: { ...o.metadata, resourceVersion: String(this.#rv++) },
      });
  }

  objects(): KubernetesObject[] {
    return [...this.objects_.values()];
  }

  get(kind: string, namespace: string, name: string) {
    return this.objects_.get(key(kind, namespace, name));
  }

  readonly client = {
    send: async (method: string, path: string, body?: unknown) => {
      this.requests.push({ at: Date.now() - START, method, path, body });
      if (this.gate && path.startsWith(this.gate.path)) await this.gate.wait;
      if (this.failing && method === this.failing.method && path.startsWith(this.failing.path))
        throw new ApiError(500, method, path, { message: "boom" });
      if (path.startsWith(`/api/v1/namespaces/${NS}/secrets`)) {
        if (method === "GET") {
          const s = this.secrets.get(path);
          if (!s) throw new ApiError(404, method, path, { message: "not found" });
          return s;
        }
        const b = body as { metadata: { name: string }; data: Record<string, string> };
        const at = method === "POST" ? `${path}/${b.metadata.name}` : path;
        this.secrets.set(at, { ...b, metadata: { ...b.metadata, resourceVersion: String(this.#rv++) } });
        return b;
      }
      const m = /^\/apis\/sluice\.dev\/v1alpha1\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)\/status$/.exec(path);
      if (method === "PUT" && m) {
        const obj = this.objects()
          .filter((o) => o.metadata?.namespace === m[1] && o.metadata?.name === m[3])
          .find((o) => `${o.kind?.toLowerCase()}s` === m[2]);
        if (!obj) throw new ApiError(404, method, path, { message: "not found" });
        const status = (body as { status: unknown }).status;
        this.objects_.set(key(obj.kind ?? "", m[1] ?? "", m[3] ?? ""), {
          ...obj,
          metadata: { ...obj.metadata, resourceVersion: String(this.#rv++) },
          status,
        });
        return body;
      }
      throw new ApiError(404, method, path, { message: "not found" });
    },
  };

  statusWrites(kind: string, name: string) {
    return this.requests.filter(
      (r) =>
        r.method === "PUT" &&
        r.path.endsWith(`/${name}/status`) &&
        (r.body as { kind?: string }).kind === kind,
    );
  }

  published(): Snapshot | undefined {
    const s = this.secrets.get(SECRET_PATH);
    return s ? (decodeSnapshot(s.data) as Snapshot) : undefined;
  }

  secretWrites() {
    return this.requests.filter(
      (r) => r.path.startsWith(`/api/v1/namespaces/${NS}/secrets`) && r.method !== "GET",
    );
  }
}

const key = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

interface WrittenStatus {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  usage?: { requests: number };
}

/** The status the fake API server holds for an object (what the writer last PUT). */
const statusOf = (cluster: FakeCluster, kind: string, name: string): WrittenStatus =>
  (cluster.get(kind, "shop", name)?.status ?? {}) as WrittenStatus;

const condition = (cluster: FakeCluster, kind: string, name: string, type: string) =>
  statusOf(cluster, kind, name).conditions?.find((c) => c.type === type);

const pool = (generation: number, port = 80): KubernetesObject =>
  ({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    metadata: { name: "app", namespace: "shop", generation },
    spec: { endpoints: [{ address: "10.0.0.1", port }] },
  }) as KubernetesObject;

const route = (generation = 1): KubernetesObject =>
  ({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    metadata: { name: "users", namespace: "shop", generation },
    spec: {
      rules: [{ name: "read", matches: [{ path: { value: "/users" } }], backendRefs: [{ name: "app" }] }],
    },
  }) as KubernetesObject;

const apiKey = (expiresAt?: string): KubernetesObject[] => [
  {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "ApiKey",
    metadata: { name: "mobile", namespace: "shop", generation: 1 },
    spec: {
      secretRef: { name: "mobile-key", key: "key" },
      consumer: "mobile",
      ...(expiresAt ? { expiresAt } : {}),
    },
  } as KubernetesObject,
  {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "mobile-key", namespace: "shop" },
    stringData: { key: "sk_live_mobile_0000000000001" },
  } as KubernetesObject,
];

/** A gateway replica's report Lease, renewed now. */
const report = (identity: string, annotations: Record<string, string>): KubernetesObject =>
  ({
    metadata: { name: `sluice-gateway-${identity}`, namespace: NS, annotations },
    spec: { holderIdentity: identity, leaseDurationSeconds: 30, renewTime: new Date().toISOString() },
  }) as KubernetesObject;

interface Harness {
  cluster: FakeCluster;
  reports: { synced: boolean; leases: KubernetesObject[]; list(): KubernetesObject[] };
  loop: ReconcileLoop;
  compile: ReturnType<typeof vi.fn<typeof compileSnapshot>>;
  metrics: OperatorMetrics;
  logs: { msg: string; [k: string]: unknown }[];
}

let running: ReconcileLoop[] = [];

function harness(over: Partial<ReconcileLoopOptions> = {}, cluster = new FakeCluster()): Harness {
  const reports = {
    synced: true,
    leases: [] as KubernetesObject[],
    list() {
      return this.leases;
    },
  };
  const logs: Harness["logs"] = [];
  const log = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const metrics = new OperatorMetrics();
  const compile = vi.fn(compileSnapshot);
  const client = cluster.client as unknown as ApiClient;
  const loop = new ReconcileLoop({
    world: cluster,
    reports,
    publisher: new SnapshotPublisher(client, NS, "sluice-snapshot"),
    writer: new StatusWriter({ client }),
    metrics,
    log,
    apiKeyHashKey: HASH_KEY,
    debounceMs: DEBOUNCE,
    compile,
    ...over,
  });
  running.push(loop);
  return { cluster, reports, loop, compile, metrics, logs };
}

async function counter(metrics: OperatorMetrics, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return m?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

/** Runs timers (and the promises they start) for ms of fake time. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers({ now: START });
});

afterEach(() => {
  for (const loop of running) loop.stop();
  running = [];
  vi.useRealTimers();
});

describe("ReconcileLoop: coalescing", () => {
  it("compiles once at start, then once for a burst of changes, a debounce after the last", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.start();
    await advance(0);
    expect(h.compile).toHaveBeenCalledTimes(1);

    for (let i = 0; i < 10; i++) {
      h.cluster.apply(pool(i + 2));
      h.loop.worldChanged();
      await advance(DEBOUNCE / 2);
    }
    expect(h.compile).toHaveBeenCalledTimes(1);
    await advance(DEBOUNCE / 2 - 1);
    expect(h.compile).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(h.compile).toHaveBeenCalledTimes(2);
    await advance(10 * DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(2);
    expect(h.loop.version).toBe(h.compile.mock.results[1]?.value.snapshot.version);
  });

  it("does not let a stream of changes postpone a compile past ten debounces", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.start();
    await advance(0);
    const before = h.compile.mock.calls.length;
    // A change every half debounce for 3 s: without a bound, no compile until it stops.
    for (let i = 0; i < 60; i++) {
      h.cluster.apply(pool(i + 2));
      h.loop.worldChanged();
      await advance(DEBOUNCE / 2);
    }
    expect(h.compile.mock.calls.length - before).toBeGreaterThanOrEqual(2);
    expect(h.compile.mock.calls.length - before).toBeLessThanOrEqual(3);
    await advance(DEBOUNCE);
    // The last change is compiled a debounce after it.
    expect(h.compile.mock.calls.at(-1)?.[0]).toContainEqual(
      expect.objectContaining({ metadata: expect.objectContaining({ generation: 61 }) }),
    );
  });

  it("changes during a running reconcile make exactly one more reconcile after it", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.startedLeading();
    let open = () => {};
    const wait = new Promise<void>((resolve) => {
      open = resolve;
    });
    h.cluster.gate = { path: "/apis/sluice.dev/", wait };
    await advance(0); // compiled and published; running: writing status
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(h.cluster.statusWrites("GatewayRoute", "users")).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      h.cluster.apply(pool(i + 2));
      h.loop.worldChanged();
      await advance(DEBOUNCE); // each one fires while the first still runs
    }
    expect(h.compile).toHaveBeenCalledTimes(1);
    h.cluster.gate = undefined;
    open();
    await advance(0);
    expect(h.compile).toHaveBeenCalledTimes(1);
    await advance(DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(2);
    await advance(10 * DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(2);
    // The second compile saw the last edit, and its snapshot is the one published.
    const last = h.compile.mock.calls[1]?.[0].find((o) => (o as KubernetesObject).kind === "BackendPool");
    expect((last as KubernetesObject).metadata?.generation).toBe(6);
    expect(h.cluster.published()?.version).toBe(h.compile.mock.results[1]?.value.snapshot.version);
  });

  it("compiles nothing until the store and the gateway reports have both listed once", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.cluster.synced = false;
    h.reports.synced = false;
    h.loop.startedLeading();
    await advance(1_000);
    h.cluster.synced = true;
    h.loop.worldChanged();
    await advance(1_000);
    expect(h.compile).not.toHaveBeenCalled();
    expect(h.cluster.requests).toEqual([]);
    h.reports.synced = true;
    h.loop.statusChanged();
    await advance(DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(h.cluster.published()).toBeDefined();
  });
});

describe("ReconcileLoop: cached compile", () => {
  it("re-evaluates status on a gateway report without recompiling", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.startedLeading();
    await advance(0);
    expect(h.compile).toHaveBeenCalledTimes(1);
    const programmed = () => condition(h.cluster, "GatewayRoute", "users", "Programmed");
    expect(programmed()).toMatchObject({ status: "False", reason: "Pending" });

    h.reports.leases = [report("gw-1", { [SERVING_ANNOTATION]: h.loop.version ?? "" })];
    for (let i = 0; i < 3; i++) h.loop.statusChanged();
    await advance(DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(programmed()).toMatchObject({ status: "True", message: "Served by 1/1 gateway replicas." });
  });

  it("re-checks status when a replica's report expires, still without recompiling", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.startedLeading();
    await advance(0);
    h.reports.leases = [report("gw-1", { [SERVING_ANNOTATION]: h.loop.version ?? "" })];
    h.loop.statusChanged();
    await advance(DEBOUNCE);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({ status: "True" });
    // The report is valid 30 s from its renewal, which stops; the loop looks again 50 ms
    // after it expires, with no event to tell it.
    await advance(30_000 + 49);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({ status: "True" });
    await advance(1 + DEBOUNCE);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({
      status: "False",
      reason: "Pending",
      message: "No gateway replica reports what it serves.",
    });
    expect(h.compile).toHaveBeenCalledTimes(1);
  });

  it("a standby compiles and counts, but writes nothing", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.start();
    await advance(1_000);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(h.cluster.requests.filter((r) => r.method !== "GET")).toEqual([]);
    expect(h.loop.version).toBeDefined();
    expect(await counter(h.metrics, "sluice_operator_objects")).toBeGreaterThan(0);
  });

  it("recompiles when an ApiKey expires, at its expiry", async () => {
    const h = harness();
    h.cluster.apply(...apiKey(new Date(START + 5_000).toISOString()));
    h.loop.startedLeading();
    await advance(0);
    expect(h.compile).toHaveBeenCalledTimes(1);
    const active = () => condition(h.cluster, "ApiKey", "mobile", "Active");
    expect(active()).toMatchObject({ status: "True" });
    await advance(5_000 + 49 + DEBOUNCE);
    expect(h.compile).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(h.compile).toHaveBeenCalledTimes(2);
    expect(active()).toMatchObject({ status: "False", reason: "Expired" });
  });

  it("samples ApiKey usage from the reports at most once per interval", async () => {
    const h = harness({ usageIntervalMs: 60_000 });
    h.cluster.apply(...apiKey());
    const used = (requests: number) =>
      report("gw-1", {
        [API_KEY_USAGE_ANNOTATION]: JSON.stringify({ "shop/mobile": [requests, START / 1000] }),
      });
    const usage = () => statusOf(h.cluster, "ApiKey", "mobile").usage;
    h.reports.leases = [used(5)];
    h.loop.startedLeading();
    await advance(0);
    expect(usage()).toMatchObject({ requests: 5 });

    await advance(10_000);
    h.reports.leases = [used(9)];
    h.loop.statusChanged();
    await advance(DEBOUNCE);
    expect(usage()).toMatchObject({ requests: 5 });

    await advance(50_000);
    h.reports.leases = [used(12)];
    h.loop.statusChanged();
    await advance(DEBOUNCE);
    expect(usage()).toMatchObject({ requests: 12 });
    expect(h.compile).toHaveBeenCalledTimes(1);
  });
});

describe("ReconcileLoop: failures", () => {
  it("retries a failed reconcile with backoff, 400 ms doubling, and resets it after a success", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.cluster.failing = { method: "GET", path: SECRET_PATH };
    h.loop.startedLeading();
    await advance(0);
    const attempts = () =>
      h.cluster.requests.filter((r) => r.method === "GET" && r.path === SECRET_PATH).map((r) => r.at);
    expect(attempts()).toEqual([0]);
    await advance(400 + 800 + 1600);
    expect(attempts()).toEqual([0, 400, 1200, 2800]);
    expect(await counter(h.metrics, "sluice_operator_reconcile_failures_total")).toBe(4);
    expect(h.logs.filter((l) => l.msg === "reconcile failed; retrying").map((l) => l.retryInMs)).toEqual([
      400, 800, 1600, 3200,
    ]);
    // Nothing is compiled without the last good snapshot read back.
    expect(h.compile).not.toHaveBeenCalled();

    h.cluster.failing = undefined;
    await advance(3200);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(h.cluster.published()?.version).toBe(h.loop.version);

    // The next failure starts from 400 ms again.
    h.cluster.failing = { method: "PUT", path: SECRET_PATH };
    h.cluster.apply(pool(2));
    h.loop.worldChanged();
    await advance(DEBOUNCE);
    expect(h.logs.filter((l) => l.msg === "reconcile failed; retrying").at(-1)?.retryInMs).toBe(400);
  });

  it("caps the backoff at 30 s", async () => {
    const h = harness();
    h.cluster.apply(pool(1));
    h.cluster.failing = { method: "GET", path: SECRET_PATH };
    h.loop.start();
    await advance(120_000);
    const delays = h.logs.filter((l) => l.msg === "reconcile failed; retrying").map((l) => l.retryInMs);
    expect(delays.slice(0, 8)).toEqual([400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000]);
    expect(delays.at(-1)).toBe(30_000);
  });
});

describe("ReconcileLoop: last good", () => {
  it("compiles with the published snapshot as previous at start, so an invalid edit keeps what the gateways serve", async () => {
    const cluster = new FakeCluster();
    // What a former leader published: the pool at generation 1.
    const before = harness({}, cluster);
    cluster.apply(pool(1), route());
    before.loop.startedLeading();
    await advance(0);
    const published = cluster.published();
    expect(published?.version).toBe(before.loop.version);
    before.loop.stop();

    // A restarted operator finds the pool edited into an invalid one (port 0).
    cluster.apply(pool(2, 0));
    const after = harness({}, cluster);
    after.loop.start();
    await advance(0);
    expect(after.compile.mock.calls[0]?.[1].previous?.version).toBe(published?.version);
    expect(after.loop.version).toBe(published?.version);

    // Without it, the pool would be dropped: a different snapshot.
    const fresh = compileSnapshot(cluster.objects(), { apiKeyHashKey: HASH_KEY });
    expect(fresh.snapshot.version).not.toBe(published?.version);
  });

  it("reads the published snapshot back on becoming leader, and recompiles against it", async () => {
    const cluster = new FakeCluster();
    cluster.apply(pool(1), route());
    const standby = harness({}, cluster);
    standby.loop.start();
    await advance(0);
    expect(standby.compile).toHaveBeenCalledTimes(1);
    expect(standby.compile.mock.calls[0]?.[1].previous).toBeUndefined(); // no Secret yet
    expect(cluster.secretWrites()).toEqual([]);

    // Meanwhile the leader published a snapshot from a world this standby never compiled.
    const leader = harness({}, new FakeCluster());
    leader.cluster.apply(pool(1, 8080), route());
    leader.loop.startedLeading();
    await advance(0);
    const theirs = leader.cluster.published() as Snapshot;
    cluster.secrets.set(SECRET_PATH, leader.cluster.secrets.get(SECRET_PATH) as never);

    const reads = () => cluster.requests.filter((r) => r.method === "GET" && r.path === SECRET_PATH).length;
    expect(reads()).toBe(1);
    standby.loop.startedLeading();
    await advance(0);
    expect(reads()).toBe(3); // read back, then publish's own look at the current version
    expect(standby.compile).toHaveBeenCalledTimes(2); // nothing changed, yet recompiled
    expect(standby.compile.mock.calls[1]?.[1].previous?.version).toBe(theirs.version);
    expect(cluster.published()?.version).toBe(standby.loop.version);
    expect(standby.loop.leading).toBe(true);

    // Leading again later reads back again; losing the lease stops the writes.
    standby.loop.stoppedLeading();
    const writes = cluster.requests.length;
    cluster.apply(pool(2, 81));
    standby.loop.worldChanged();
    await advance(DEBOUNCE);
    expect(cluster.requests.length).toBe(writes);
    expect(standby.compile).toHaveBeenCalledTimes(3);
  });

  it("keeps the snapshot it had when the Secret holds none or an unreadable one", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.loop.start();
    await advance(0);
    const first = h.loop.version;
    h.cluster.secrets.set(SECRET_PATH, {
      metadata: { annotations: { [SNAPSHOT_VERSION_ANNOTATION]: "x" } },
      data: { [SNAPSHOT_SECRET_KEY]: "not a snapshot" },
    });
    h.loop.startedLeading();
    await advance(0);
    expect(h.compile.mock.calls[1]?.[1].previous?.version).toBe(first);
  });
});

describe("ReconcileLoop: validation before publishing", () => {
  it("refuses a snapshot that fails validation: no Secret write, logged, counted, said in status, retried with backoff", async () => {
    let broken = true;
    const h = harness({
      compile: (objects, options) => {
        const out = compileSnapshot(objects, options);
        return broken ? { ...out, snapshot: { ...out.snapshot, version: FORGED } } : out;
      },
    });
    h.cluster.apply(pool(1), route());
    h.loop.startedLeading();
    await advance(0);
    expect(h.cluster.secretWrites()).toEqual([]);
    // Not silent: the objects say why they are not served, and so do metrics and readiness.
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({
      status: "False",
      reason: "PublishFailed",
      message: expect.stringContaining("does not match the content hash"),
    });
    expect(h.loop.publishFailure).toContain("fails validation");
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(1);
    expect(await counter(h.metrics, "sluice_operator_snapshot_refusals_total")).toBe(1);
    expect(await counter(h.metrics, "sluice_operator_snapshot_publishes_total")).toBe(0);
    const refused = h.logs.filter((l) => l.msg === "snapshot fails validation; not published");
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ retryInMs: 400 });
    expect(String(refused[0]?.problems)).toContain("does not match the content hash");

    await advance(400);
    expect(await counter(h.metrics, "sluice_operator_snapshot_refusals_total")).toBe(2);
    expect(h.cluster.secretWrites()).toEqual([]);

    broken = false;
    await advance(800);
    expect(h.cluster.secretWrites()).toHaveLength(1);
    expect(h.cluster.published()?.version).toBe(h.loop.version);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({ reason: "Pending" });
    expect(h.loop.publishFailure).toBeUndefined();
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(0);
    expect(await counter(h.metrics, "sluice_operator_snapshot_publishes_total")).toBe(1);
  });

  it("says in status, metrics and readiness when the API server refuses the snapshot Secret, and recovers", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.reports.leases = [report("gw-a", {})];
    h.cluster.failing = { method: "POST", path: `/api/v1/namespaces/${NS}/secrets` };
    h.loop.startedLeading();
    await advance(0);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({
      status: "False",
      reason: "PublishFailed",
      message: expect.stringMatching(/could not be published: .*boom.*; served by 0\/1 gateway replicas/),
    });
    expect(h.loop.publishFailure).toContain("boom");
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(1);
    expect(await counter(h.metrics, "sluice_operator_publish_failures_total")).toBe(1);
    h.cluster.failing = undefined;
    await advance(400);
    expect(h.cluster.published()?.version).toBe(h.loop.version);
    expect(h.loop.publishFailure).toBeUndefined();
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(0);
    expect(condition(h.cluster, "GatewayRoute", "users", "Programmed")).toMatchObject({ reason: "Pending" });
    // A standby says nothing about publishing.
    h.cluster.failing = { method: "PUT", path: `/api/v1/namespaces/${NS}/secrets` };
    h.loop.stoppedLeading();
    expect(h.loop.publishFailure).toBeUndefined();
  });

  it("says so when a referenced Secret cannot be read, publishes nothing meanwhile, and recovers", async () => {
    const cluster = new FakeCluster();
    let unreadable = true;
    const fetches: string[][] = [];
    const world = Object.assign(cluster, {
      fetchReferenced: async (references: readonly string[]) => {
        fetches.push([...references]);
        if (unreadable)
          throw new ApiError(403, "GET", "/api/v1/namespaces/shop/secrets/mobile-key", {
            message: "forbidden",
          });
        return false;
      },
    });
    const h = harness({ world }, world);
    h.cluster.apply(pool(1), route(), ...apiKey());
    h.loop.startedLeading();
    await advance(0);
    expect(h.cluster.secretWrites()).toEqual([]);
    expect(h.loop.publishFailure).toContain("forbidden");
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(1);
    // What compile read is what the store is asked to fetch.
    expect(fetches[0]).toContain("Secret/shop/mobile-key");
    unreadable = false;
    await advance(400);
    expect(h.cluster.published()?.version).toBe(h.loop.version);
    expect(h.loop.publishFailure).toBeUndefined();
    expect(await counter(h.metrics, "sluice_operator_publish_failing")).toBe(0);
  });

  it("stops a status write that a newer compile supersedes, and publishes that one first", async () => {
    const h = harness();
    const routes = Array.from({ length: 40 }, (_, i) => ({
      ...route(),
      metadata: { name: `r${i}`, namespace: "shop", generation: 1 },
    })) as KubernetesObject[];
    h.cluster.apply(pool(1), ...routes);
    h.loop.startedLeading();
    let release: () => void = () => {};
    h.cluster.gate = {
      path: "/apis/sluice.dev/v1alpha1/namespaces/shop/gatewayroutes/",
      wait: new Promise((resolve) => {
        release = resolve;
      }),
    };
    await advance(0);
    const firstVersion = h.cluster.published()?.version;
    expect(firstVersion).toBeDefined();
    // While the first writes hang, the pool changes: the running write must not go on to the rest.
    h.cluster.apply(pool(2, 81));
    h.loop.worldChanged();
    release();
    await advance(0);
    const routeWrites = () =>
      h.cluster.requests.filter((r) => r.method === "PUT" && r.path.includes("/gatewayroutes/"));
    const beforeNext = routeWrites().length;
    expect(beforeNext).toBeLessThanOrEqual(8); // the writer's concurrency: those already sent
    expect(await counter(h.metrics, "sluice_operator_status_writes_total")).toBeGreaterThan(0);
    await advance(DEBOUNCE);
    expect(h.cluster.published()?.version).not.toBe(firstVersion);
    expect(h.cluster.published()?.version).toBe(h.loop.version);
    // Every route's status was written in the end, by the newer reconcile.
    for (const r of routes)
      expect(h.cluster.statusWrites("GatewayRoute", r.metadata?.name ?? "").length).toBeGreaterThan(0);
  });

  it("never takes a snapshot that fails validation as the previous one (last good stays what is served)", async () => {
    let broken = true;
    const previousSeen: (string | undefined)[] = [];
    const h = harness({
      compile: (objects, options) => {
        previousSeen.push(options.previous?.version);
        const out = compileSnapshot(objects, options);
        return broken ? { ...out, snapshot: { ...out.snapshot, version: FORGED } } : out;
      },
    });
    h.cluster.apply(pool(1), route());
    h.loop.startedLeading();
    await advance(0);
    await advance(400);
    broken = false;
    await advance(800);
    expect(previousSeen.length).toBeGreaterThanOrEqual(3);
    expect(previousSeen).not.toContain(FORGED);
    expect(h.cluster.secretWrites()).toHaveLength(1);
  });

  it("a standby never publishes, so never refuses", async () => {
    const h = harness({
      compile: (objects, options) => {
        const out = compileSnapshot(objects, options);
        return { ...out, snapshot: { ...out.snapshot, version: FORGED } };
      },
    });
    h.cluster.apply(pool(1), route());
    h.loop.start();
    await advance(1_000);
    expect(await counter(h.metrics, "sluice_operator_snapshot_refusals_total")).toBe(0);
    expect(h.cluster.secretWrites()).toEqual([]);
  });
});

describe("ReconcileLoop: stop", () => {
  it("cancels the pending reconcile and every timer", async () => {
    const h = harness();
    h.cluster.apply(...apiKey(new Date(START + 5_000).toISOString()));
    h.reports.leases = [report("gw-1", {})];
    h.loop.start();
    await advance(0);
    h.loop.worldChanged();
    h.loop.stop();
    await advance(60_000);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("schedules nothing more when stopped during a running reconcile", async () => {
    const h = harness();
    h.cluster.apply(pool(1), route());
    h.reports.leases = [report("gw-1", {})];
    let open = () => {};
    h.cluster.gate = {
      path: "/apis/sluice.dev/",
      wait: new Promise<void>((resolve) => {
        open = resolve;
      }),
    };
    h.loop.startedLeading();
    await advance(0); // writing status
    h.loop.worldChanged();
    await advance(DEBOUNCE); // a change while it runs: one more is due
    h.loop.stop();
    open();
    await advance(60_000);
    expect(h.compile).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
