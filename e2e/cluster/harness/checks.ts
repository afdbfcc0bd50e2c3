// The checks of scenarios 1 and 2, written once: the helm install and the kustomize install
// (scenario 8) must pass the same ones.
import { join } from "node:path";
import { request } from "undici";
import { expect } from "vitest";
import { eventually, sleep } from "../../../test-support/index.ts";
import type { KubeClient } from "../../harness/kube-client.ts";
import { startLoad, summary } from "./load.ts";
import { type ClusterInfo, ROOT } from "./providers.ts";
import {
  condition,
  ensureTrafficRoute,
  gatewayUrl,
  getJson,
  type Json,
  kubectlAsync,
  NAMESPACE,
  readyPods,
  TRAFFIC,
  waitServed,
} from "./release.ts";

/** Two operator and two gateway pods, all Ready, never restarted, non-root on a read-only root. */
export async function checkPodsReady(kube: KubeClient): Promise<void> {
  const pods = await eventually(
    "2 operator and 2 gateway pods Ready",
    () => {
      const all = (getJson(kube, "pods", "-n", NAMESPACE).items as Json[]).filter(
        (p) => !p.metadata.deletionTimestamp,
      );
      const ready = all.filter((p) => condition(p, "Ready")?.status === "True");
      return ready.length === 4 && all.length === 4 && all;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  const byComponent = (c: string) =>
    pods.filter((p) => p.metadata.labels["app.kubernetes.io/component"] === c);
  expect(byComponent("operator")).toHaveLength(2);
  expect(byComponent("gateway")).toHaveLength(2);
  for (const pod of pods) {
    expect(pod.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(pod.status.containerStatuses[0].restartCount, pod.metadata.name).toBe(0);
  }
}

/** config/samples applied: every object Accepted, and Programmed by both gateway pods. */
export async function checkSamplesProgrammed(kube: KubeClient): Promise<void> {
  kube.kubectl("apply", "-k", join(ROOT, "config/samples"));
  const kinds = ["gatewayroute", "backendpool", "ratelimitpolicy", "apikey", "authzpolicy"];
  const describe = (o: Json) =>
    `${o.kind}/${o.metadata.name}: ${(o.status?.conditions ?? []).map((c: Json) => `${c.type}=${c.status} ${c.message ?? ""}`).join("; ")}`;
  let last: Json[] = [];
  await eventually(
    "every sample Accepted and Programmed by 2/2 gateways",
    () => {
      last = kinds.flatMap((k) => getJson(kube, k, "-n", "shop").items as Json[]);
      return (
        last.length === kinds.length &&
        last.every(
          (o) =>
            condition(o, "Accepted")?.status === "True" &&
            condition(o, "Programmed")?.message === "Served by 2/2 gateway replicas.",
        )
      );
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${last.map(describe).join("\n")}`);
  });
}

/** The sample route answers through the gateway Service from a backend pod, with its filter applied. */
export async function checkSampleServed(info: ClusterInfo, kube: KubeClient): Promise<void> {
  const url = gatewayUrl(info, kube);
  // The sample AuthzPolicy asks for a JWT or an API key: the sample ApiKey's Secret holds one.
  const key = Buffer.from(
    getJson(kube, "secret", "mobile-app-key", "-n", "shop").data.key,
    "base64",
  ).toString();
  const headers = { host: "api.example.com", "x-api-key": key };
  await waitServed(`${url}/users/1`, headers);
  const anonymous = await request(`${url}/users/1`, { headers: { host: "api.example.com" } });
  await anonymous.body.dump();
  expect(anonymous.statusCode).toBe(401);
  const res = await request(`${url}/users/1`, { headers });
  const body = (await res.body.json()) as Json;
  expect(res.statusCode).toBe(200);
  expect(readyPods(kube, "shop", "app=users")).toContain(body.pod);
  expect(body.headers["X-Gateway"] ?? body.headers["x-gateway"]).toEqual(["sluice"]);
}

/** Ready endpoints of the traffic backend's EndpointSlices, by pod name, read through the API. */
async function readyEndpoints(kube: KubeClient): Promise<Set<string>> {
  const { body } = await kube.send(
    "GET",
    `/apis/discovery.k8s.io/v1/namespaces/${TRAFFIC.namespace}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${TRAFFIC.name}`,
  );
  const pods = new Set<string>();
  for (const slice of body.items as Json[]) {
    for (const e of slice.endpoints ?? []) if (e.conditions?.ready) pods.add(e.targetRef.name);
  }
  return pods;
}

function scale(kube: KubeClient, replicas: number): Promise<string> {
  return kubectlAsync(
    kube,
    "scale",
    "deployment",
    TRAFFIC.name,
    "-n",
    TRAFFIC.namespace,
    `--replicas=${replicas}`,
  );
}

/**
 * The traffic backend scaled 2 → 4 → 1 under steady load: each new pod answers within a
 * second of its endpoint turning ready, and no request fails. Leaves it at 2 replicas.
 */
export async function checkTrafficFollowsScaling(
  info: ClusterInfo,
  kube: KubeClient,
  label: string,
): Promise<void> {
  const url = await ensureTrafficRoute(info, kube, 2);
  await scale(kube, 2);
  await eventually("2 ready endpoints", async () => (await readyEndpoints(kube)).size === 2, {
    timeoutMs: 60_000,
  });
  const before = await readyEndpoints(kube);
  const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 200 });
  try {
    await sleep(1000);
    // Up: when each new pod's endpoint turns ready, then when it first answers.
    await scale(kube, 4);
    const readyAt = new Map<string, number>();
    await eventually(
      "4 ready endpoints",
      async () => {
        // The time before the read that first shows it ready: the earliest it can have been,
        // so the figure below is never understated.
        const askedAt = load.now();
        for (const pod of await readyEndpoints(kube))
          if (!before.has(pod) && !readyAt.has(pod)) readyAt.set(pod, askedAt);
        return readyAt.size === 2;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const followMs = await eventually(
      "traffic on both new pods",
      () => {
        const ms = [...readyAt].map(([pod, at]) => {
          const first = load.outcomes.find((o) => o.pod === pod);
          return first ? first.at + first.ms - at : undefined;
        });
        return ms.every((m) => m !== undefined) && (ms as number[]);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    await sleep(2000);

    // Down to 1: three pods go away while the load runs.
    const downAt = load.now();
    await scale(kube, 1);
    const [remaining] = await eventually(
      "one ready endpoint",
      async () => {
        const pods = await readyEndpoints(kube);
        return pods.size === 1 && [...pods];
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const goneAt = load.now();
    await eventually(
      "only the remaining pod answering",
      () => {
        const recent = load.outcomes.filter((o) => o.at > load.now() - 500);
        return recent.length > 0 && recent.every((o) => o.pod === remaining);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const settledMs = load.now() - goneAt;
    await sleep(1000);
    const outcomes = await load.stop();
    console.log(
      `[${label}] scale 2→4: new pods answered ${followMs.map((m) => m.toFixed(0)).join(" / ")} ms after their endpoint turned ready; ` +
        `4→1: endpoints down to 1 after ${(goneAt - downAt).toFixed(0)} ms, only ${remaining} answering ${settledMs.toFixed(0)} ms later; ${summary(outcomes)}`,
    );
    expect(Math.max(...followMs)).toBeLessThan(1000);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
  } finally {
    await load.stop();
    await scale(kube, 2);
  }
}

/**
 * Steady 200 requests/s on the traffic route while `action` runs (and a second before and
 * after): every request answered 200. Logs how long the action took and the load's summary.
 */
export async function checkNothingFailsWhile(
  info: ClusterInfo,
  kube: KubeClient,
  label: string,
  action: () => Promise<unknown>,
): Promise<void> {
  const url = await ensureTrafficRoute(info, kube);
  const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 200 });
  try {
    await sleep(1000);
    const start = performance.now();
    await action();
    const seconds = (performance.now() - start) / 1000;
    await sleep(1000);
    const outcomes = await load.stop();
    console.log(`[${label}] took ${seconds.toFixed(1)} s; ${summary(outcomes)}`);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
  } finally {
    await load.stop();
  }
}
