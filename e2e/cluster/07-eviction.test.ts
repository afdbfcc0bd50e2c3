// Scenario 7: a `kubectl drain`-style eviction respects the PodDisruptionBudgets: of two
// gateway (and two operator) pods, one may be evicted; the second eviction is refused while
// its replacement is not Ready, and traffic keeps flowing throughout.
import { afterAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../../test-support/index.ts";
import { startLoad, summary } from "./harness/load.ts";
import {
  cluster,
  ensureTrafficRoute,
  getJson,
  getJsonAsync,
  NAMESPACE,
  RELEASE,
  readyPods,
  readyPodsAsync,
  TRAFFIC,
} from "./harness/release.ts";

const { info, kube } = cluster();

/** Two pods of the component Ready (pods being deleted do not count). */
function twoReady(component: string): Promise<unknown> {
  const selector = `app.kubernetes.io/component=${component}`;
  return eventually(
    `2 ${component} pods Ready`,
    async () => (await readyPodsAsync(kube, NAMESPACE, selector)).length === 2,
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** POST an Eviction for a pod, as `kubectl drain` does; answers the HTTP status. */
async function evict(pod: string): Promise<number> {
  const { status } = await kube.send("POST", `/api/v1/namespaces/${NAMESPACE}/pods/${pod}/eviction`, {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: pod, namespace: NAMESPACE },
  });
  return status;
}

describe("scenario 7: evictions and the PodDisruptionBudgets", () => {
  afterAll(async () => {
    await twoReady("gateway");
    await twoReady("operator");
  });

  for (const component of ["gateway", "operator"]) {
    it(`evicts one ${component} pod, refuses the second until the first is replaced`, async () => {
      const url = await ensureTrafficRoute(info, kube);
      const pdb = getJson(kube, "pdb", `${RELEASE}-${component}`, "-n", NAMESPACE);
      expect(pdb.spec.minAvailable).toBe(1);
      const [first, second] = readyPods(kube, NAMESPACE, `app.kubernetes.io/component=${component}`);
      const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 100 });
      try {
        // The budget's status may lag a pod that just turned Ready (scenario 6 restarted one).
        await eventually(
          "the budget allowing one disruption",
          async () =>
            (await getJsonAsync(kube, "pdb", `${RELEASE}-${component}`, "-n", NAMESPACE)).status
              ?.disruptionsAllowed === 1,
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        expect(await evict(first as string)).toBe(201);
        // The budget allows no second disruption while only one pod is Ready.
        expect(await evict(second as string)).toBe(429);
        await twoReady(component);
        // Once the replacement is Ready, the budget has room again; the drain would go on.
        let status = 0;
        for (let i = 0; i < 50 && status !== 201; i++) {
          status = await evict(second as string);
          if (status !== 201) await sleep(200);
        }
        expect(status).toBe(201);
        await twoReady(component);
        await sleep(500);
        const outcomes = await load.stop();
        console.log(
          `[scenario 7] ${component}: second eviction refused (429) until the replacement was Ready; ${summary(outcomes)}`,
        );
        expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
      } finally {
        await load.stop();
      }
    });
  }
});
