// The operator and gateways as local processes (the same CLI and flags as in the chart)
// against the real API server: apply with kubectl, then watch the gateway serve it and the
// objects' status tell the truth.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { sleep } from "../test-support/index.ts";
import { installCrds, ROOT } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { createTestHosts } from "./harness/netns.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import {
  type GatewayProcess,
  get,
  type OperatorProcess,
  SluiceProcesses,
} from "./harness/sluice-processes.ts";

const NS = "e2e-op";
const SYSTEM = "sluice-system";
const procs = new SluiceProcesses();
const logs = procs.logs;
const until = procs.until.bind(procs);
let kube: KubeClient;
let operatorKubeconfig: string;
let gatewayKubeconfig: string;
const operators = new Map<string, OperatorProcess>();
let upstream: Server;
let upstreamPort: number;

const startGatewayProcess = (name: string, env: Record<string, string> = {}) =>
  procs.gateway(name, gatewayKubeconfig, `${SYSTEM}/sluice-snapshot`, env);

const apply = (objects: unknown[]) => kube.apply(objects);

const pool = (name: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "BackendPool",
  metadata: { name, namespace: NS },
  spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
});
const route = (name: string, path: string, backend: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  metadata: { name, namespace: NS },
  spec: {
    hostnames: ["e2e.example.com"],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: path } }], backendRefs: [{ name: backend }] }],
  },
});

let gateway: GatewayProcess;

const condition = (kind: string, name: string, type: string, field: "status" | "reason" | "message") =>
  kube.kubectl(
    "get",
    kind,
    name,
    "-n",
    NS,
    "-o",
    `jsonpath={.status.conditions[?(@.type=="${type}")].${field}}`,
  );

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  // Least privilege: both run as their ServiceAccounts with config/rbac, not as admin.
  operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", logs);
  gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", logs);
  // Two operator replicas: one leads, the other stands by with warm caches.
  for (const identity of ["operator-1", "operator-2"]) {
    operators.set(identity, await procs.operator(identity, operatorKubeconfig, SYSTEM));
  }
  gateway = await startGatewayProcess("gateway-1");
});

afterAll(async () => {
  await procs.stopAll();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe("operator and gateway on a real API server", () => {
  it("serves what kubectl applied, and the objects say Accepted", async () => {
    apply([pool("hello"), route("hello", "/hello", "hello")]);
    const served = await until("the gateway to serve /hello", async () => {
      const r = await get(gateway.url, "/hello/x", "e2e.example.com");
      return r.status === 200 ? r : undefined;
    });
    expect(served.body).toBe("upstream saw /hello/x");
    const accepted = await until("Accepted=True on the route", () => {
      const v = kube.kubectl(
        "get",
        "gwr",
        "hello",
        "-n",
        NS,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Accepted")].status}',
      );
      return v === "True" ? v : undefined;
    });
    expect(accepted).toBe("True");
    const programmed = await until("Programmed=True on the route", () => {
      const v = condition("gwr", "hello", "Programmed", "message");
      return v.startsWith("Served by 1/1") ? v : undefined;
    });
    expect(programmed).toBe("Served by 1/1 gateway replicas.");
    expect(condition("gwr", "hello", "Programmed", "status")).toBe("True");
  });

  it("refuses at kubectl apply a resource that breaks a CEL rule, naming the field", () => {
    const bad = route("bad", "/bad", "hello");
    (bad.spec.rules[0] as Record<string, unknown>).filters = [
      { type: "RequestRedirect", requestRedirect: { path: "/x" } },
    ];
    expect(() => apply([bad])).toThrow(
      /spec\.rules\[0\]\.backendRefs: Invalid value: .*a rule needs backendRefs, unless it has a RequestRedirect filter/,
    );
  });

  it("names a missing backend in the route's condition and keeps serving the rest", async () => {
    apply([route("broken", "/broken", "no-such-pool")]);
    const message = await until("ResolvedRefs=False on the broken route", () => {
      const v = kube.kubectl(
        "get",
        "gwr",
        "broken",
        "-n",
        NS,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="ResolvedRefs")].message}',
      );
      return v.includes("no-such-pool") ? v : undefined;
    });
    expect(message).toContain('spec.rules[0].backendRefs[0].name: BackendPool "no-such-pool" not found');
    // The leader's log names the object and the reason of the condition it set.
    const logged = await until("the condition in the operator's log", () => {
      const lines = ["operator-1", "operator-2"].flatMap((o) =>
        readFileSync(join(logs, `${o}.log`), "utf8").split("\n"),
      );
      return lines.find(
        (l) =>
          l.includes('"msg":"condition set"') &&
          l.includes('"name":"broken"') &&
          l.includes('"condition":"ResolvedRefs"'),
      );
    });
    expect(JSON.parse(logged)).toMatchObject({
      kind: "GatewayRoute",
      namespace: NS,
      status: "False",
      reason: "BackendNotFound",
    });
    expect((await get(gateway.url, "/hello", "e2e.example.com")).status).toBe(200);
    expect((await get(gateway.url, "/broken", "e2e.example.com")).status).toBe(500);
  });

  it("propagates route edits to the gateway (apply → served), and reports the figures", async () => {
    // Two figures per edit: from running kubectl apply, and from kubectl returning (the
    // object is stored by then) — the second is the operator's and gateway's share.
    const total: number[] = [];
    const afterStore: number[] = [];
    for (let i = 0; i < 50; i++) {
      const path = `/edit-${i}`;
      const started = performance.now();
      apply([route("hello", path, "hello")]);
      const stored = performance.now();
      await until(`the gateway to serve ${path}`, async () =>
        (await get(gateway.url, path, "e2e.example.com")).status === 200 ? true : undefined,
      );
      total.push(performance.now() - started);
      afterStore.push(performance.now() - stored);
    }
    const pct = (xs: number[], p: number) =>
      [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1] ?? 0;
    console.log(
      `apply → served over ${total.length} edits: p50 ${pct(total, 50).toFixed(0)} ms, p99 ${pct(total, 99).toFixed(0)} ms; ` +
        `stored → served: p50 ${pct(afterStore, 50).toFixed(0)} ms, p99 ${pct(afterStore, 99).toFixed(0)} ms`,
    );
    expect(pct(total, 99)).toBeLessThan(5_000);
  });

  it("says Programmed=False, naming the replica, while one replica rejects the snapshot", async () => {
    // A gateway with another API-key hash key cannot check the snapshot's keys: it refuses it.
    const bad = await startGatewayProcess("gateway-bad", { SLUICE_API_KEY_HASH_KEY: "another-key" });
    const message = await until("Programmed=False naming gateway-bad", () => {
      const v = condition("gwr", "hello", "Programmed", "message");
      return v.includes("gateway-bad") ? v : undefined;
    });
    expect(condition("gwr", "hello", "Programmed", "reason")).toBe("Rejected");
    expect(message).toMatch(
      /^Served by 1\/2 gateway replicas; replica gateway-bad rejected snapshot sha256:[0-9a-f]{64}: .*hashed with key/,
    );
    // The replica goes away (and withdraws its report): Programmed again.
    bad.child.kill("SIGTERM");
    await until("Programmed=True again", () =>
      condition("gwr", "hello", "Programmed", "status") === "True" ? true : undefined,
    );
  });

  it("routes a Service-backed pool to its EndpointSlice endpoints, and follows them within a second", async () => {
    const hosts = createTestHosts(201, 2);
    try {
      const [a, b] = hosts.addresses as [string, string];
      await hosts.serve("backend-a", a, 8080);
      await hosts.serve("backend-b", b, 8080);
      const slice = (address: string) => ({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "catalog-1", namespace: NS, labels: { "kubernetes.io/service-name": "catalog" } },
        addressType: "IPv4",
        ports: [{ name: "http", port: 8080, protocol: "TCP" }],
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
      });
      apply([
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "catalog", namespace: NS },
          spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }] },
        },
        slice(a),
        {
          apiVersion: "sluice.dev/v1alpha1",
          kind: "BackendPool",
          metadata: { name: "catalog", namespace: NS },
          spec: { service: { name: "catalog", port: 80 } },
        },
        route("catalog", "/catalog", "catalog"),
      ]);
      const first = await until("traffic to backend-a", async () => {
        const r = await get(gateway.url, "/catalog/1", "e2e.example.com");
        return r.status === 200 ? r.body : undefined;
      });
      expect(first).toBe("backend-a saw /catalog/1");
      expect(
        await until("readyEndpoints 1", () =>
          kube.kubectl("get", "bp", "catalog", "-n", NS, "-o", "jsonpath={.status.readyEndpoints}") === "1"
            ? true
            : undefined,
        ),
      ).toBe(true);
      // The endpoints move: traffic follows.
      const moved = performance.now();
      apply([slice(b)]);
      await until("traffic to backend-b", async () =>
        (await get(gateway.url, "/catalog/2", "e2e.example.com")).body === "backend-b saw /catalog/2"
          ? true
          : undefined,
      );
      const tookMs = performance.now() - moved;
      console.log(`EndpointSlice change → traffic moved in ${tookMs.toFixed(0)} ms (kubectl included)`);
      expect(tookMs).toBeLessThan(5_000);
    } finally {
      hosts.destroy();
    }
  });

  it("serves the complete shop sample, every object Accepted and Programmed", async () => {
    const hosts = createTestHosts(202, 3);
    try {
      const services = ["catalog", "orders", "orders-canary"];
      const backends: unknown[] = [];
      for (const [i, name] of services.entries()) {
        const address = hosts.addresses[i] as string;
        await hosts.serve(name, address, 8080);
        backends.push(
          {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name, namespace: "shop" },
            spec: { ports: [{ name: "http", port: 8080 }] },
          },
          {
            apiVersion: "discovery.k8s.io/v1",
            kind: "EndpointSlice",
            metadata: {
              name: `${name}-1`,
              namespace: "shop",
              labels: { "kubernetes.io/service-name": name },
            },
            addressType: "IPv4",
            ports: [{ name: "http", port: 8080, protocol: "TCP" }],
            endpoints: [{ addresses: [address], conditions: { ready: true } }],
          },
        );
      }
      kube.kubectl("apply", "-f", join(ROOT, "config/samples/shop/shop.yaml"));
      apply(backends);
      const body = await until("the shop's catalog through the gateway", async () => {
        const r = await get(gateway.url, "/api/products/42", "shop.example.com");
        return r.status === 200 ? r.body : undefined;
      });
      expect(body).toBe("catalog saw /products/42");
      const objects = [
        "gatewayroute/catalog",
        "gatewayroute/orders",
        "backendpool/catalog",
        "backendpool/orders",
        "backendpool/orders-canary",
        "ratelimitpolicy/shop-limits",
        "apikey/partner-acme",
        "authzpolicy/orders-access",
      ];
      const states = await until("every shop object Accepted and Programmed", () => {
        const out = objects.map((o) => {
          const jsonpath =
            '{.status.conditions[?(@.type=="Accepted")].status}/{.status.conditions[?(@.type=="Programmed")].status}';
          return `${o} ${kube.kubectl("get", o, "-n", "shop", "-o", `jsonpath=${jsonpath}`)}`;
        });
        return out.every((line) => line.endsWith(" True/True")) ? out : undefined;
      });
      expect(states).toHaveLength(objects.length);
      const table = kube.kubectl("get", "sluice", "-n", "shop");
      console.log(table);
    } finally {
      hosts.destroy();
    }
  });

  it("says an ApiKey is Expired once its expiresAt passes, without any edit", async () => {
    const expiresAt = new Date(Date.now() + 3_000).toISOString();
    apply([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "soon-key", namespace: NS },
        stringData: { key: "e2e-key-that-expires-soon" },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "ApiKey",
        metadata: { name: "soon", namespace: NS },
        spec: { consumer: "temp", secretRef: { name: "soon-key", key: "key" }, expiresAt },
      },
    ]);
    await until("Active=True before the expiry", () =>
      condition("apikey", "soon", "Active", "status") === "True" ? true : undefined,
    );
    const reason = await until("Active=False/Expired after it", () => {
      const r = condition("apikey", "soon", "Active", "reason");
      return r === "Expired" ? r : undefined;
    });
    expect(reason).toBe("Expired");
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(condition("apikey", "soon", "Active", "message")).toContain("has passed");
  });

  it("shows in the ApiKey's status how often and when the gateways accepted it", async () => {
    const key = "e2e-usage-key-0123456789";
    apply([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "usage-key", namespace: NS },
        stringData: { key },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "ApiKey",
        metadata: { name: "usage", namespace: NS },
        spec: { consumer: "meter", secretRef: { name: "usage-key", key: "key" } },
      },
      route("metered", "/metered", "hello"),
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "AuthzPolicy",
        metadata: { name: "metered", namespace: NS },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "metered" }],
          authentication: { apiKey: { from: [{ header: "x-api-key" }] } },
          rules: [{ name: "meter", action: "Allow", principals: { consumers: ["meter"] } }],
        },
      },
    ]);
    const send = () =>
      request(`${gateway.url}/metered`, { headers: { host: "e2e.example.com", "x-api-key": key } });
    await until("the key to be accepted", async () => {
      const res = await send();
      await res.body.dump();
      return res.statusCode === 200 ? true : undefined;
    });
    for (let i = 0; i < 4; i++) await (await send()).body.dump();
    const sent = Date.now();
    // Gateways report every 10 s; the operator folds usage in every second here (1 min by default).
    const usage = await until(
      "status.usage with the 5 requests",
      () => {
        const out = kube.kubectl("get", "apikey", "usage", "-n", NS, "-o", "jsonpath={.status.usage}");
        const u = out ? (JSON.parse(out) as { requests: number; lastUsedTime: string }) : undefined;
        return u && u.requests >= 5 ? u : undefined;
      },
      30_000,
    );
    expect(usage.requests).toBe(5);
    expect(Math.abs(Date.parse(usage.lastUsedTime) - sent)).toBeLessThan(10_000);
  });

  it("kill the leader: the standby takes over within the lease duration and applies a change made meanwhile", async () => {
    const leaderName = () =>
      kube.kubectl("get", "lease", "sluice-operator", "-n", SYSTEM, "-o", "jsonpath={.spec.holderIdentity}");
    const leader = leaderName();
    expect(["operator-1", "operator-2"]).toContain(leader);
    // The operators' admin listeners agree with the Lease; the standby is ready (warm caches).
    for (const [identity, operator] of operators) {
      const res = await request(`${operator.admin}/status`);
      expect(await res.body.json()).toMatchObject({ identity, leader: identity === leader, synced: true });
      expect((await request(`${operator.admin}/readyz`)).statusCode).toBe(200);
    }
    // The log level changes at runtime.
    const level = await request(`${operators.get(leader)?.admin}/log-level?level=debug`, { method: "PUT" });
    expect(await level.body.json()).toEqual({ level: "debug" });
    // The leader's metrics say what it has done so far in this file.
    const metrics = await (await request(`${operators.get(leader)?.admin}/metrics`)).body.text();
    const value = (series: string) =>
      Number(
        metrics
          .split("\n")
          .find((l) => l.startsWith(`${series} `))
          ?.split(" ")[1] ?? Number.NaN,
      );
    expect(value("sluice_operator_leader")).toBe(1);
    expect(value("sluice_operator_compile_duration_seconds_count")).toBeGreaterThan(0);
    expect(value("sluice_operator_snapshot_publishes_total")).toBeGreaterThan(0);
    expect(value('sluice_operator_status_writes_total{result="written"}')).toBeGreaterThan(0);
    expect(value('sluice_operator_lists_total{kind="GatewayRoute"}')).toBeGreaterThanOrEqual(1);
    // Routes of this file: hello, broken (unresolved), catalog, failover is not applied yet.
    expect(
      value('sluice_operator_objects{kind="GatewayRoute",condition="ResolvedRefs",status="False"}'),
    ).toBe(1);
    // Programmed, from the gateway's report: hello and catalog are served.
    expect(
      value('sluice_operator_objects{kind="GatewayRoute",condition="Programmed",status="True"}'),
    ).toBeGreaterThanOrEqual(2);
    operators.get(leader)?.child.kill("SIGKILL");
    const killedAt = performance.now();
    apply([route("failover", "/failover", "hello")]);
    await until("the change to be served after the failover", async () =>
      (await get(gateway.url, "/failover", "e2e.example.com")).status === 200 ? true : undefined,
    );
    const tookMs = performance.now() - killedAt;
    console.log(`leader ${leader} killed; the change was served ${tookMs.toFixed(0)} ms later (lease 3 s)`);
    expect(leaderName()).not.toBe(leader);
    expect(tookMs).toBeLessThan(10_000);
  });

  it("keeps serving with the operator down, and a new gateway starts from the persisted snapshot", async () => {
    for (const operator of operators.values()) operator.child.kill("SIGKILL");
    await sleep(500);
    expect((await get(gateway.url, "/edit-49", "e2e.example.com")).status).toBe(200);
    const second = await startGatewayProcess("gateway-2");
    const served = await until("the new gateway to serve from the Secret", async () => {
      const r = await get(second.url, "/edit-49/y", "e2e.example.com");
      return r.status === 200 ? r : undefined;
    });
    expect(served.body).toBe("upstream saw /edit-49/y");
  });
});
