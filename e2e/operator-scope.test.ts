// What the operator reads, on a real API server (issue 18 §2): it watches Secrets as
// metadata only and fetches the data of those its objects refer to, and a change to a
// Secret, Service or EndpointSlice no object reads starts no compile — while one that is
// read is served at once: a rotated API key, a key whose Secret existed before anything
// referred to it, a deleted key Secret (fails closed), an EndpointSlice a pool uses.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { sleep } from "../test-support/index.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { type GatewayProcess, type OperatorProcess, SluiceProcesses } from "./harness/sluice-processes.ts";

const SYSTEM = "sluice-system";
const NS = "e2e-scope";
const procs = new SluiceProcesses();
let kube: KubeClient;
let operator: OperatorProcess;
let gateway: GatewayProcess;
let upstream: Server;

const compiles = async () => {
  const text = await (await request(`${operator.admin}/metrics`)).body.text();
  return Number(/^sluice_operator_compile_duration_seconds_count (\d+)/m.exec(text)?.[1]);
};

const status = async (key: string | undefined) => {
  const res = await request(`${gateway.url}/scope/x`, {
    headers: { host: "scope.example.com", ...(key ? { "x-api-key": key } : {}) },
  });
  await res.body.dump();
  return res.statusCode;
};

const secret = (name: string, key: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: NS },
  stringData: { key },
});

const apiKey = (name: string, secretName: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "ApiKey",
  metadata: { name, namespace: NS },
  spec: { secretRef: { name: secretName, key: "key" }, consumer: name },
});

/** The operator's compile count settles (no change for 1.5 s) and is returned. */
async function settled(): Promise<number> {
  let last = await compiles();
  for (;;) {
    await sleep(1_500);
    const now = await compiles();
    if (now === last) return now;
    last = now;
  }
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const port = (upstream.address() as AddressInfo).port;
  kube.apply([
    secret("first-key", "sk_scope_first_000000000001"),
    apiKey("first", "first-key"),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "unrelated", namespace: NS },
      stringData: { note: "no Sluice object refers to this one" },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "unused", namespace: NS },
      spec: { ports: [{ name: "http", port: 80 }] },
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "unused-1", namespace: NS, labels: { "kubernetes.io/service-name": "unused" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: [{ addresses: ["10.9.0.1"], conditions: { ready: true } }],
    },
    ...[
      {
        kind: "BackendPool",
        metadata: { name: "scope", namespace: NS },
        spec: { endpoints: [{ address: "127.0.0.1", port }] },
      },
      {
        kind: "GatewayRoute",
        metadata: { name: "scope", namespace: NS },
        // A host name of its own: other files' HostnameOwnerships own other hosts on this API server.
        spec: {
          hostnames: ["scope.example.com"],
          rules: [{ matches: [{ path: { value: "/scope" } }], backendRefs: [{ name: "scope" }] }],
        },
      },
      {
        kind: "AuthzPolicy",
        metadata: { name: "keys", namespace: NS },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "scope" }],
          authentication: { apiKey: { from: [{ header: "x-api-key" }] } },
          rules: [{ name: "our-consumers", action: "Allow", principals: { consumers: ["first", "early"] } }],
          defaultAction: "Deny",
        },
      },
    ].map((o) => ({ apiVersion: "sluice.dev/v1alpha1", ...o })),
  ]);
  const operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  const gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs);
  operator = await procs.operator("scope-operator", operatorKubeconfig, SYSTEM);
  gateway = await procs.gateway("scope-gateway", gatewayKubeconfig, `${SYSTEM}/sluice-snapshot`);
  await procs.until(
    "the first key to be served",
    async () => ((await status("sk_scope_first_000000000001").catch(() => 0)) === 200 ? true : undefined),
    60_000,
  );
});

afterAll(async () => {
  await procs.stopAll();
  await new Promise((resolve) => upstream.close(resolve));
});

describe("the operator reads what its objects refer to, and only that", () => {
  it("starts no compile for changes to a Secret, Service or EndpointSlice no object reads", async () => {
    const before = await settled();
    for (let i = 0; i < 5; i++) {
      kube.apply([
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "unrelated", namespace: NS },
          stringData: { note: `update ${i}` },
        },
        {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: { name: "unused-1", namespace: NS, labels: { "kubernetes.io/service-name": "unused" } },
          addressType: "IPv4",
          ports: [{ name: "http", port: 8080, protocol: "TCP" }],
          endpoints: [{ addresses: [`10.9.0.${i + 2}`], conditions: { ready: true } }],
        },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "unused", namespace: NS, labels: { update: String(i) } },
          spec: { ports: [{ name: "http", port: 80 }] },
        },
      ]);
    }
    await sleep(1_500);
    expect(await compiles()).toBe(before);
  });

  it("serves a rotated key at once, and refuses the old one", async () => {
    const before = await settled();
    kube.apply([secret("first-key", "sk_scope_rotated_00000000002")]);
    await procs.until(
      "the rotated key to be served",
      async () => ((await status("sk_scope_rotated_00000000002")) === 200 ? true : undefined),
      15_000,
    );
    expect(await status("sk_scope_first_000000000001")).toBe(401);
    expect(await compiles()).toBeGreaterThan(before);
  });

  it("reads a Secret that existed before an ApiKey referred to it", async () => {
    // Created first: no object refers to it, so the operator holds none of its data…
    kube.apply([secret("early-key", "sk_scope_early_0000000000003")]);
    await sleep(1_000);
    // …until this ApiKey does.
    kube.apply([apiKey("early", "early-key")]);
    await procs.until(
      "the early key to be served",
      async () => ((await status("sk_scope_early_0000000000003")) === 200 ? true : undefined),
      15_000,
    );
  });

  it("fails closed when a key's Secret is deleted", async () => {
    kube.kubectl("delete", "secret", "early-key", "-n", NS);
    await procs.until(
      "the early key to be refused",
      async () => ((await status("sk_scope_early_0000000000003")) === 401 ? true : undefined),
      15_000,
    );
    const key = JSON.parse(kube.kubectl("get", "apikey", "early", "-n", NS, "-o", "json"));
    const resolved = key.status.conditions.find((c: { type: string }) => c.type === "ResolvedRefs");
    expect(resolved).toMatchObject({ status: "False" });
    expect(resolved.message).toContain("early-key");
    expect(await status("sk_scope_rotated_00000000002")).toBe(200);
  });
});
