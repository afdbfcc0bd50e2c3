// Events for condition changes, from the operator as a local process running as its
// ServiceAccount with config/rbac (a missing events permission fails here): a route moved to
// a pool that does not exist gets a Warning Event naming the reason, about that route, which
// `kubectl describe` lists; flapping back and forth grows one Event's count instead of adding
// Events.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { SluiceProcesses } from "./harness/sluice-processes.ts";

const NS = "e2e-events";
const SYSTEM = "sluice-system";
const ROUTE = "ev-route";
const procs = new SluiceProcesses();
const until = procs.until.bind(procs);
let kube: KubeClient;

const pool = {
  apiVersion: "sluice.dev/v1alpha1",
  kind: "BackendPool",
  metadata: { name: "ev-pool", namespace: NS },
  spec: { endpoints: [{ address: "127.0.0.1", port: 9 }] },
};
const route = (backend: string) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  metadata: { name: ROUTE, namespace: NS },
  spec: {
    hostnames: ["events.example.com"],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: backend }] }],
  },
});

interface CoreEvent {
  type: string;
  reason: string;
  message: string;
  count?: number;
  series?: { count: number };
  reportingComponent: string;
  reportingInstance: string;
  involvedObject: { apiVersion: string; kind: string; namespace: string; name: string; uid: string };
}

/** The route's Events as kubectl describe finds them: core/v1, by involvedObject. */
function routeEvents(): CoreEvent[] {
  const uid = kube.kubectl("get", "gwr", ROUTE, "-n", NS, "-o", "jsonpath={.metadata.uid}");
  const out = kube.kubectl(
    "get",
    "events",
    "-n",
    NS,
    "--field-selector",
    `involvedObject.kind=GatewayRoute,involvedObject.name=${ROUTE},involvedObject.uid=${uid}`,
    "-o",
    "json",
  );
  return (JSON.parse(out) as { items: CoreEvent[] }).items;
}

const resolvedRefs = () =>
  kube.kubectl(
    "get",
    "gwr",
    ROUTE,
    "-n",
    NS,
    "-o",
    'jsonpath={.status.conditions[?(@.type=="ResolvedRefs")].status}/{.status.conditions[?(@.type=="ResolvedRefs")].reason}',
  );

async function pointAt(backend: string, expected: string) {
  kube.apply([route(backend)]);
  await until(`ResolvedRefs ${expected}`, () => (resolvedRefs() === expected ? true : undefined));
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  const kubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  await procs.operator("events-operator", kubeconfig, SYSTEM);
  kube.apply([pool]);
});

afterAll(async () => {
  await procs.stopAll();
  kube.kubectl("delete", "-n", NS, "gatewayroutes,backendpools,events", "--all", "--ignore-not-found");
});

describe("Events for condition changes", () => {
  it("a route moved to a missing pool gets a Warning Event about it, listed by kubectl describe", async () => {
    await pointAt("ev-pool", "True/ResolvedRefs");
    // A healthy new object is not news: no Warning yet.
    expect(routeEvents().filter((e) => e.type === "Warning")).toEqual([]);

    await pointAt("ev-missing", "False/BackendNotFound");
    const [event] = await until("the BackendNotFound Event", () => {
      const found = routeEvents().filter((e) => e.reason === "BackendNotFound");
      return found.length > 0 ? found : undefined;
    });
    const uid = kube.kubectl("get", "gwr", ROUTE, "-n", NS, "-o", "jsonpath={.metadata.uid}");
    expect(event).toMatchObject({
      type: "Warning",
      reason: "BackendNotFound",
      reportingComponent: "sluice.dev/operator",
      involvedObject: {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "GatewayRoute",
        namespace: NS,
        name: ROUTE,
        uid,
      },
    });
    expect(event?.message).toMatch(/^ResolvedRefs=False: .*ev-missing/);

    // The events.k8s.io/v1 view of the same Event: `regarding`, the action and the reporter.
    const v1 = JSON.parse(kube.kubectl("get", "events.v1.events.k8s.io", "-n", NS, "-o", "json")) as {
      items: { reason: string; action: string; regarding: { uid: string } }[];
    };
    expect(v1.items.find((e) => e.reason === "BackendNotFound")).toMatchObject({
      action: "ResolvedRefs",
      regarding: { uid },
    });

    const describe = kube.kubectl("describe", "gwr", ROUTE, "-n", NS);
    expect(describe).toMatch(/Events:\s*\n\s+Type\s+Reason\s+Age\s+From\s+Message/);
    expect(describe).toMatch(
      /Warning\s+BackendNotFound\s+\S+\s+sluice\.dev\/operator\s+ResolvedRefs=False: .*ev-missing/,
    );
  });

  it("a flapping route grows one Event's count instead of adding Events", async () => {
    for (let i = 0; i < 2; i++) {
      await pointAt("ev-pool", "True/ResolvedRefs");
      await pointAt("ev-missing", "False/BackendNotFound");
    }
    const broken = await until("the BackendNotFound Event counted 3 times", () => {
      const found = routeEvents().filter((e) => e.reason === "BackendNotFound");
      return found.length === 1 && found[0]?.series?.count === 3 ? found : undefined;
    });
    expect(broken).toHaveLength(1);
    // The way back is one series too (created on the first return, counted on the second).
    const healed = routeEvents().filter((e) => e.type === "Normal" && e.reason === "ResolvedRefs");
    expect(healed).toHaveLength(1);
    expect(healed[0]?.series?.count).toBe(2);
    expect(kube.kubectl("describe", "gwr", ROUTE, "-n", NS)).toMatch(
      /Warning\s+BackendNotFound\s+\S+ \(x3 over \S+\)/,
    );
  });
});
