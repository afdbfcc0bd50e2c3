// Scenario 4: `helm upgrade` changing a gateway value rolls the gateways under steady load
// without a failed request, and the new value is what the new pods run with.
import { describe, expect, it } from "vitest";
import { sleep } from "../../test-support/index.ts";
import { startLoad, summary } from "./harness/load.ts";
import {
  cluster,
  ensureTrafficRoute,
  getJson,
  helmInstallAsync,
  type Json,
  NAMESPACE,
  RELEASE,
  rolloutStatus,
  TRAFFIC,
} from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 4: helm upgrade of a gateway value", () => {
  it("serves every request while the upgrade rolls the gateways", async () => {
    const url = await ensureTrafficRoute(info, kube);
    const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 200 });
    try {
      await sleep(1000);
      const start = performance.now();
      await helmInstallAsync(info, { "gateway.config.maxRequestsPerClient": 512 });
      await rolloutStatus(kube, NAMESPACE, `${RELEASE}-gateway`);
      const seconds = (performance.now() - start) / 1000;
      await sleep(1000);
      const outcomes = await load.stop();
      console.log(`[scenario 4] helm upgrade took ${seconds.toFixed(1)} s; ${summary(outcomes)}`);
      expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
      const pods = getJson(kube, "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=gateway")
        .items as Json[];
      for (const pod of pods.filter((p) => !p.metadata.deletionTimestamp)) {
        expect(pod.spec.containers[0].args.join(" ")).toContain("--max-requests-per-client=512");
      }
    } finally {
      await load.stop();
    }
  });
});
