// Scenario 1: `helm install` of charts/sluice with the image built here brings every pod to
// Ready, the sample resources come out Accepted and Programmed by the real number of
// gateway pods, and a request through the gateway Service reaches a backend pod.
import { beforeAll, describe, it } from "vitest";
import { checkPodsReady, checkSampleServed, checkSamplesProgrammed } from "./harness/checks.ts";
import { cluster, echoBackend, helmInstall } from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 1: helm install", () => {
  beforeAll(() => {
    // The samples' pool is the Service shop/users on port 8080.
    kube.apply(echoBackend("shop", "users", 2));
    const start = performance.now();
    helmInstall(info);
    console.log(`[scenario 1] helm install --wait: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  });

  it("runs every operator and gateway pod to Ready, as non-root with a read-only root filesystem", () =>
    checkPodsReady(kube));
  it("reports the samples Accepted and Programmed by both gateway pods", () => checkSamplesProgrammed(kube));
  it("serves the sample route through the gateway Service to a backend pod", () =>
    checkSampleServed(info, kube));
});
