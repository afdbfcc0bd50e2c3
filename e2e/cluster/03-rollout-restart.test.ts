// Scenario 3: `kubectl rollout restart` of the gateway Deployment under steady load loses
// nothing: a new pod takes traffic once /readyz says so, an old one leaves the endpoints
// (preStop) before it stops accepting, and finishes what it has (drain).
import { describe, expect, it } from "vitest";
import { sleep } from "../../test-support/index.ts";
import { startLoad, summary } from "./harness/load.ts";
import {
  cluster,
  ensureTrafficRoute,
  kubectlAsync,
  NAMESPACE,
  RELEASE,
  rolloutStatus,
  TRAFFIC,
} from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 3: rollout restart of the gateways", () => {
  it("serves every request while both gateway pods are replaced", async () => {
    const url = await ensureTrafficRoute(info, kube);
    const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 200 });
    try {
      await sleep(1000);
      const start = performance.now();
      await kubectlAsync(kube, "rollout", "restart", `deployment/${RELEASE}-gateway`, "-n", NAMESPACE);
      await rolloutStatus(kube, NAMESPACE, `${RELEASE}-gateway`);
      const seconds = (performance.now() - start) / 1000;
      await sleep(1000);
      const outcomes = await load.stop();
      console.log(`[scenario 3] rollout restart took ${seconds.toFixed(1)} s; ${summary(outcomes)}`);
      expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    } finally {
      await load.stop();
    }
  });
});
