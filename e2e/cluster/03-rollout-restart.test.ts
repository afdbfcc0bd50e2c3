// Scenario 3: `kubectl rollout restart` of the gateway Deployment under steady load loses
// nothing: a new pod takes traffic once /readyz says so, an old one leaves the endpoints
// (preStop) before it stops accepting, and finishes what it has (drain).
import { describe, it } from "vitest";
import { checkNothingFailsWhile } from "./harness/checks.ts";
import { cluster, kubectlAsync, NAMESPACE, RELEASE, rolloutStatus } from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 3: rollout restart of the gateways", () => {
  it("serves every request while both gateway pods are replaced", () =>
    checkNothingFailsWhile(info, kube, "scenario 3: rollout restart", async () => {
      await kubectlAsync(kube, "rollout", "restart", `deployment/${RELEASE}-gateway`, "-n", NAMESPACE);
      await rolloutStatus(kube, NAMESPACE, `${RELEASE}-gateway`);
    }));
});
