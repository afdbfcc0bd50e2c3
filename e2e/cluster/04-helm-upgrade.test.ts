// Scenario 4: `helm upgrade` changing a gateway value rolls the gateways under steady load
// without a failed request, and the new value is what the new pods run with.
import { describe, expect, it } from "vitest";
import { checkNothingFailsWhile } from "./harness/checks.ts";
import {
  cluster,
  getJson,
  helmInstallAsync,
  type Json,
  NAMESPACE,
  RELEASE,
  rolloutStatus,
} from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 4: helm upgrade of a gateway value", () => {
  it("serves every request while the upgrade rolls the gateways", async () => {
    await checkNothingFailsWhile(info, kube, "scenario 4: helm upgrade", async () => {
      await helmInstallAsync(info, { "gateway.config.maxRequestsPerClient": 512 });
      await rolloutStatus(kube, NAMESPACE, `${RELEASE}-gateway`);
    });
    const pods = getJson(kube, "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=gateway")
      .items as Json[];
    for (const pod of pods.filter((p) => !p.metadata.deletionTimestamp)) {
      expect(pod.spec.containers[0].args).toContain("--max-requests-per-client=512");
    }
  });
});
