// Scenario 2: a Service-backed BackendPool follows the EndpointSlices the real controller
// writes. The echo backend is scaled 2 → 4 → 1 under steady load: each new pod gets traffic
// within a second of turning ready, and no request fails.
import { describe, it } from "vitest";
import { checkTrafficFollowsScaling } from "./harness/checks.ts";
import { cluster } from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 2: traffic follows the EndpointSlices", () => {
  it("scales the backend 2 → 4 → 1 under load: new pods answer within a second, nothing fails", () =>
    checkTrafficFollowsScaling(info, kube, "scenario 2"));
});
