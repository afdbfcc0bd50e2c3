// Budgets on a real API server (issue 18 §1): one tenant's oversized objects are refused
// with a condition naming the budget, and everyone else keeps being served. The operator
// runs with a small --budgets objectBytes (as the chart renders operator.budgets), so the
// objects stay small enough to apply; a gateway serves what it publishes.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { operatorSettings } from "../cli/operator-command.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { type GatewayProcess, get, SluiceProcesses } from "./harness/sluice-processes.ts";
import { CHART, findObject, helm, parseObjects, renderChart } from "./helm/helm.ts";

const GREEDY = "e2e-budget-greedy";
const CALM = "e2e-budget-calm";
const SYSTEM = "sluice-system";
const HOST = "budgets.e2e.test";
const OBJECT_BYTES = 4096;
const procs = new SluiceProcesses();
const until = procs.until.bind(procs);
let kube: KubeClient;
let upstream: Server;
let upstreamPort: number;
let gateway: GatewayProcess;

const pool = (namespace: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "BackendPool",
  metadata: { name: "app", namespace },
  spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
});
const route = (namespace: string, name: string, paths: string[]) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  metadata: { name, namespace },
  spec: {
    hostnames: [HOST],
    rules: [{ matches: paths.map((value) => ({ path: { value } })), backendRefs: [{ name: "app" }] }],
  },
});
/** A valid route whose spec is well over OBJECT_BYTES: 16 matches with long paths. */
const oversized = (namespace: string, name: string, first: string) =>
  route(namespace, name, [
    first,
    ...Array.from({ length: 15 }, (_, i) => `/${namespace}/${name}/${i}/${"x".repeat(400)}`),
  ]);

const condition = (namespace: string, name: string, type: string) => {
  const raw = kube.kubectl(
    "get",
    "gatewayroute",
    name,
    "-n",
    namespace,
    "-o",
    `jsonpath={.status.conditions[?(@.type=="${type}")]}`,
  );
  return raw === "" ? undefined : (JSON.parse(raw) as { status: string; reason: string; message: string });
};

const served = (path: string) => get(gateway.url, path, HOST);

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [GREEDY, CALM, SYSTEM]);
  upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  const operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  const gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs);
  // Plus the flag the chart renders from operator.budgets.
  await procs.operator("budgets-operator", operatorKubeconfig, SYSTEM, [
    "--budgets",
    `objectBytes=${OBJECT_BYTES}`,
  ]);
  gateway = await procs.gateway("budgets-gateway", gatewayKubeconfig, `${SYSTEM}/sluice-snapshot`);
  kube.apply([
    pool(GREEDY),
    route(GREEDY, "small", ["/greedy/small"]),
    pool(CALM),
    route(CALM, "orders", ["/calm/orders"]),
  ]);
  await until("both namespaces' routes to be served", async () =>
    (await served("/greedy/small")).status === 200 && (await served("/calm/orders")).status === 200
      ? true
      : undefined,
  );
});

afterAll(async () => {
  await procs.stopAll();
  // Nothing of this world stays behind for the next test file (no namespace controller runs).
  for (const ns of [GREEDY, CALM]) kube?.kubectl("delete", "gatewayroutes,backendpools", "--all", "-n", ns);
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

describe("budgets on a real API server", () => {
  it("an oversized object is refused while other namespaces keep flowing", async () => {
    // Greedy adds an oversized route and grows its served one past the budget; then calm
    // makes a change, which must be served regardless.
    kube.apply([oversized(GREEDY, "huge", "/greedy/huge"), oversized(GREEDY, "small", "/greedy/grown")]);
    kube.apply([route(CALM, "later", ["/calm/later"])]);

    const refused = await until("huge's Accepted=False TooLarge", () => {
      const c = condition(GREEDY, "huge", "Accepted");
      return c?.reason === "TooLarge" ? c : undefined;
    });
    expect(refused.status).toBe("False");
    expect(refused.message).toMatch(
      new RegExp(
        `^spec: \\d+ bytes as JSON, over the objectBytes budget of ${OBJECT_BYTES}; .*--budgets objectBytes=N`,
      ),
    );
    await until("calm's change to be served", async () =>
      (await served("/calm/later")).status === 200 ? true : undefined,
    );

    // The route that grew keeps its last good version: its old path serves, its new one not.
    const kept = await until("small's Fallback=True LastGoodServed", () => {
      const c = condition(GREEDY, "small", "Fallback");
      return c?.reason === "LastGoodServed" ? c : undefined;
    });
    expect(kept.message).toContain("Generation 1, the last valid one, is still served; generation 2 is not");
    expect(condition(GREEDY, "small", "Accepted")).toMatchObject({ status: "False", reason: "TooLarge" });
    expect(await served("/greedy/small")).toEqual({ status: 200, body: "upstream saw /greedy/small" });
    expect((await served("/greedy/grown")).status).toBe(404);
    expect((await served("/greedy/huge")).status).toBe(404);
    expect((await served("/calm/orders")).status).toBe(200);
  });
});

describe("operator.budgets in the chart", () => {
  it("renders --budgets as the operator reads it, and refuses what the operator would", () => {
    const args = (rendered: string) =>
      findObject<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(
        parseObjects(rendered),
        "Deployment/v/pkg-sluice-operator",
      ).spec.template.spec.containers[0]?.args.slice(1) ?? [];
    expect(args(renderChart("pkg", "v")).some((a) => a.startsWith("--budgets"))).toBe(false);
    const set = "operator.budgets.namespaceBytes=8388608,operator.budgets.objectBytes=64Ki";
    const rendered = args(renderChart("pkg", "v", ["--set", set]));
    expect(rendered).toContain("--budgets=namespaceBytes=8388608,objectBytes=64Ki");
    expect(operatorSettings(rendered, {}).budgets).toEqual({
      namespaceBytes: 8_388_608,
      objectBytes: 65_536,
    });
    for (const bad of ["operator.budgets.routes=5", "operator.budgets.objectBytes=12KB"]) {
      const r = helm(["template", "pkg", CHART, "--namespace", "v", "--set", bad]);
      expect(r.status, bad).not.toBe(0);
      expect(r.stderr).toContain("/operator/budgets");
    }
  });
});
