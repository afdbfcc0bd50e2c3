// The status writer against a real API server: it writes conditions through the status
// subresource (kubectl's printer columns show them), skips no-op writes, keeps
// lastTransitionTime for unchanged conditions, retries conflicts and shrugs off objects
// that are gone.
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { ConditionDraft, ObjectStatus } from "../core/compile/status-book.ts";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import { type CurrentObject, StatusWriter } from "../operator/src/status/status-writer.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";

const NS = "shop";
const BASE = "/apis/sluice.dev/v1alpha1/namespaces/shop";
const POOL = "sw-pool";
const ROUTE = "sw-route";
const GONE = "sw-gone";

interface Stored extends CurrentObject {
  metadata: { generation?: number; resourceVersion: string };
  status?: { conditions?: (ConditionDraft & { lastTransitionTime: string })[]; [k: string]: unknown };
}

let kube: KubeClient;
let client: ApiClient;
const logs: string[] = [];

function pool(name: string) {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    metadata: { name, namespace: NS },
    spec: { endpoints: [{ address: "10.0.0.1", port: 80 }] },
  };
}

function cond(type: string, ok: boolean, message = `${type} ok`): ConditionDraft {
  return {
    type,
    status: ok ? "True" : "False",
    reason: ok ? type : "BackendNotFound",
    message,
    observedGeneration: 1,
  };
}

function routeStatus(resolved: boolean, message?: string): ObjectStatus {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    namespace: NS,
    name: ROUTE,
    conditions: [cond("Accepted", true, message), cond("ResolvedRefs", resolved)],
    backends: POOL,
  };
}

function poolStatus(name = POOL): ObjectStatus {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    namespace: NS,
    name,
    conditions: [cond("Accepted", true), cond("ResolvedRefs", true)],
    readyEndpoints: 1,
  };
}

async function get(plural: string, name: string): Promise<Stored> {
  const res = await kube.send("GET", `${BASE}/${plural}/${name}`);
  expect(res.status).toBe(200);
  return res.body as unknown as Stored;
}

/** A snapshot of the objects, as an informer cache would hold them. */
async function cache(): Promise<(kind: string, ns: string, name: string) => Stored | undefined> {
  const objects = new Map<string, Stored>();
  for (const [kind, plural, name] of [
    ["BackendPool", "backendpools", POOL],
    ["GatewayRoute", "gatewayroutes", ROUTE],
  ] as const) {
    const res = await kube.send("GET", `${BASE}/${plural}/${name}`);
    if (res.status === 200) objects.set(`${kind}/${NS}/${name}`, res.body as unknown as Stored);
  }
  return (kind, ns, name) => objects.get(`${kind}/${ns}/${name}`);
}

function writer(now: string) {
  return new StatusWriter({ client, now: () => new Date(now), log: (msg) => logs.push(msg) });
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  client = ApiClient.load(kube.kubeconfig);
  await installCrds(kube);
  for (const path of [`backendpools/${POOL}`, `backendpools/${GONE}`, `gatewayroutes/${ROUTE}`])
    await kube.send("DELETE", `${BASE}/${path}`);
  for (const name of [POOL, GONE])
    expect((await kube.send("POST", `${BASE}/backendpools`, pool(name))).status).toBe(201);
  const route = {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    metadata: { name: ROUTE, namespace: NS },
    spec: {
      hostnames: ["status.example.com"],
      rules: [
        {
          name: "all",
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [{ name: POOL }],
        },
      ],
    },
  };
  expect((await kube.send("POST", `${BASE}/gatewayroutes`, route)).status).toBe(201);
});

describe("StatusWriter on a real API server", () => {
  it("writes status through the subresource; kubectl get shows it", async () => {
    const counts = await writer("2026-01-01T00:00:00.500Z").write(
      [routeStatus(true), poolStatus()],
      await cache(),
    );
    expect(counts).toEqual({ written: 2, skipped: 0, conflicts: 0, missing: 0, failed: 0, deferred: 0 });

    const table = kube.kubectl("get", "gwr", "-n", NS, ROUTE);
    expect(table.split("\n")[0]).toMatch(/NAME\s+HOSTNAMES\s+BACKENDS\s+ACCEPTED\s+RESOLVEDREFS/);
    expect(table).toMatch(new RegExp(`${ROUTE}\\s+\\["status.example.com"\\]\\s+${POOL}\\s+True\\s+True`));

    const route = await get("gatewayroutes", ROUTE);
    expect(route.metadata.generation).toBe(1); // status writes do not bump the generation
    expect(route.status).toEqual({
      backends: POOL,
      conditions: [
        { ...cond("Accepted", true), lastTransitionTime: "2026-01-01T00:00:00Z" },
        { ...cond("ResolvedRefs", true), lastTransitionTime: "2026-01-01T00:00:00Z" },
      ],
    });
    expect((await get("backendpools", POOL)).status?.readyEndpoints).toBe(1);
  });

  it("skips a second write of the same input: no request, resourceVersion unchanged", async () => {
    const before = await get("gatewayroutes", ROUTE);
    const counts = await writer("2026-01-01T01:00:00Z").write(
      [routeStatus(true), poolStatus()],
      await cache(),
    );
    expect(counts).toEqual({ written: 0, skipped: 2, conflicts: 0, missing: 0, failed: 0, deferred: 0 });
    expect((await get("gatewayroutes", ROUTE)).metadata.resourceVersion).toBe(
      before.metadata.resourceVersion,
    );
  });

  it("moves lastTransitionTime only for the condition that changed status", async () => {
    const counts = await writer("2026-01-02T00:00:00Z").write(
      [routeStatus(false), poolStatus()],
      await cache(),
    );
    expect(counts).toEqual({ written: 1, skipped: 1, conflicts: 0, missing: 0, failed: 0, deferred: 0 });
    const conditions = (await get("gatewayroutes", ROUTE)).status?.conditions ?? [];
    expect(conditions.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
      ["Accepted", "True", "2026-01-01T00:00:00Z"],
      ["ResolvedRefs", "False", "2026-01-02T00:00:00Z"],
    ]);
    expect(kube.kubectl("get", "gwr", "-n", NS, ROUTE)).toMatch(/True\s+False/);
  });

  it("retries a conflict: the object changed between the read and the write", async () => {
    const current = await cache(); // read…
    kube.kubectl("label", "gwr", "-n", NS, ROUTE, "touched=yes"); // …someone else writes…
    const counts = await writer("2026-01-03T00:00:00Z").write([routeStatus(true, "re-resolved")], current);
    expect(counts).toEqual({ written: 1, skipped: 0, conflicts: 1, missing: 0, failed: 0, deferred: 0 });
    expect(logs).toContain("status write conflict, retrying");
    const route = await get("gatewayroutes", ROUTE);
    expect(route.metadata).toMatchObject({ labels: { touched: "yes" } });
    expect(route.status?.conditions?.map((c) => [c.type, c.status, c.message, c.lastTransitionTime])).toEqual(
      [
        ["Accepted", "True", "re-resolved", "2026-01-01T00:00:00Z"],
        ["ResolvedRefs", "True", "ResolvedRefs ok", "2026-01-03T00:00:00Z"],
      ],
    );
  });

  it("after a stale-cache conflict, re-reads and skips when the server already has the status", async () => {
    const stale = await cache();
    await writer("2026-01-04T00:00:00Z").write([routeStatus(false)], await cache());
    // The cache still shows the old status: the writer tries, gets 409, re-reads, finds it done.
    const counts = await writer("2026-01-05T00:00:00Z").write([routeStatus(false)], stale);
    expect(counts).toEqual({ written: 0, skipped: 1, conflicts: 1, missing: 0, failed: 0, deferred: 0 });
  });

  it("counts a deleted object as missing, whether the cache still has it or not", async () => {
    const stale = await (async () => {
      const obj = await get("backendpools", GONE);
      return () => obj;
    })();
    expect((await kube.send("DELETE", `${BASE}/backendpools/${GONE}`)).status).toBe(200);
    const fromCache = await writer("2026-01-06T00:00:00Z").write([poolStatus(GONE)], stale);
    expect(fromCache).toEqual({ written: 0, skipped: 0, conflicts: 0, missing: 1, failed: 0, deferred: 0 });
    const fromGet = await writer("2026-01-06T00:00:00Z").write([poolStatus(GONE)], () => undefined);
    expect(fromGet).toEqual({ written: 0, skipped: 0, conflicts: 0, missing: 1, failed: 0, deferred: 0 });
  });
});
