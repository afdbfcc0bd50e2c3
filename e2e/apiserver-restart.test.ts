import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, sleep } from "../test-support/index.ts";
import { ExtraApiServer } from "./harness/extra-apiserver.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import {
  type GatewayProcess,
  get,
  type OperatorProcess,
  SluiceProcesses,
} from "./harness/sluice-processes.ts";

const NS = "e2e-restart";
const SYSTEM = "sluice-system";
const HOST = "restart.example.com";
const procs = new SluiceProcesses();
let kube: KubeClient;
let extra: ExtraApiServer;
let upstream: Server;
let upstreamPort: number;
let gateway: GatewayProcess;
let operator: OperatorProcess;

const apply = (objects: unknown[]) => kube.apply(objects);

const route = (name: string, path: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  metadata: { name, namespace: NS },
  spec: {
    hostnames: [HOST],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: path } }], backendRefs: [{ name: "echo" }] }],
  },
});

const status = async (path: string) => (await get(gateway.url, path, HOST)).status;

const condition = (name: string, type: string) =>
  kube.kubectl(
    "get",
    "gwr",
    name,
    "-n",
    NS,
    "-o",
    `jsonpath={.status.conditions[?(@.type=="${type}")].status}`,
  );

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((req, res) => res.end(`echo saw ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  extra = new ExtraApiServer(inject("apiserverLauncher"), await freePort(), procs.logs);
  await extra.start(kube.kubeconfig);
  // Least privilege as in the other scenarios, but pointed at the API server that will go away.
  const viaExtra = (name: string) => {
    const file = serviceAccountKubeconfig(kube, SYSTEM, name, procs.logs);
    return extra.kubeconfigFrom(file, file);
  };
  operator = await procs.operator("restart-operator", viaExtra("sluice-operator"), SYSTEM);
  gateway = await procs.gateway("restart-gateway", viaExtra("sluice-gateway"), `${SYSTEM}/sluice-snapshot`);
});

afterAll(async () => {
  await procs.stopAll();
  await extra?.kill();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe("the API server restarts", () => {
  it("the operator and gateway recover by themselves and pick up what changed while it was away", async () => {
    apply([
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "BackendPool",
        metadata: { name: "echo", namespace: NS },
        spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
      },
      route("kept", "/kept"),
      route("edited", "/before"),
      route("deleted", "/deleted"),
    ]);
    await procs.until("the three routes to be served", async () =>
      (await status("/kept")) === 200 &&
      (await status("/before")) === 200 &&
      (await status("/deleted")) === 200
        ? true
        : undefined,
    );
    // A replica killed by an earlier test file counts until its report expires (30 s).
    await procs.until(
      "Programmed=True on the routes",
      () => (condition("kept", "Programmed") === "True" ? true : undefined),
      40_000,
    );

    await extra.kill();
    // Made through the other API server while theirs is down: an add, an edit and a delete.
    apply([route("added", "/added"), route("edited", "/after")]);
    kube.kubectl("delete", "gwr", "deleted", "-n", NS);
    // Down for longer than the 3 s lease: the operator loses leadership meanwhile.
    await sleep(4_000);
    expect(await status("/kept")).toBe(200);
    expect(await status("/deleted")).toBe(200);
    const readyz = await request(`${gateway.admin}/readyz`);
    await readyz.body.dump();
    expect(readyz.statusCode).toBe(200);

    await extra.start(kube.kubeconfig);
    const back = performance.now();
    await procs.until(
      "the changes made while the API server was away to be served",
      async () =>
        (await status("/added")) === 200 &&
        (await status("/after")) === 200 &&
        (await status("/before")) === 404 &&
        (await status("/deleted")) === 404
          ? true
          : undefined,
      60_000,
    );
    const servedMs = performance.now() - back;
    await procs.until(
      "status written again through the restarted API server",
      () =>
        condition("added", "Accepted") === "True" && condition("added", "Programmed") === "True"
          ? true
          : undefined,
      60_000,
    );
    const statusMs = performance.now() - back;
    console.log(
      `API server back → changes served in ${servedMs.toFixed(0)} ms, status Programmed in ${statusMs.toFixed(0)} ms`,
    );
    expect(await status("/kept")).toBe(200);
    // Recovered, not restarted.
    expect(operator.child.exitCode).toBeNull();
    const operatorStatus = await request(`${operator.admin}/status`);
    expect(await operatorStatus.body.json()).toMatchObject({ leader: true, synced: true });
    const metrics = await (await request(`${operator.admin}/metrics`)).body.text();
    expect(metrics).toMatch(/^sluice_operator_watch_restarts_total\{kind="GatewayRoute"\} [1-9]/m);
    expect(gateway.child.exitCode).toBeNull();
  });
});
