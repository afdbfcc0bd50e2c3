// Scenario 8: `kubectl apply -k config/default` installs a working Sluice the same way:
// the helm release is uninstalled first (the CRDs, the samples and the API-key hash key
// Secret stay, as docs/install.md says), then scenarios 1 and 2's checks run again.

import { join } from "node:path";
import { beforeAll, describe, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  checkPodsReady,
  checkSampleServed,
  checkSamplesProgrammed,
  checkTrafficFollowsScaling,
} from "./harness/checks.ts";
import { ROOT } from "./harness/providers.ts";
import { cluster, getJson, helmUninstall, leaderPod, NAMESPACE, readyPods } from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 8: kustomize install", () => {
  beforeAll(async () => {
    helmUninstall(info);
    // The release's pods may still be terminating (preStop, drain): the new ones need not wait.
    // docs/install.md: the hash key Secret comes first (helm uninstall kept it).
    const secrets = getJson(kube, "secrets", "-n", NAMESPACE).items.map(
      (s: { metadata: { name: string } }) => s.metadata.name,
    );
    if (!secrets.includes("sluice-api-key-hash-key")) {
      kube.kubectl(
        "-n",
        NAMESPACE,
        "create",
        "secret",
        "generic",
        "sluice-api-key-hash-key",
        "--from-literal=key=e2e-cluster-kustomize-hash-key-0123456789abcdef",
      );
    }
    kube.kubectl("apply", "--server-side", "-k", join(ROOT, "config/default"));
    // helm uninstall removed the operator's RBAC with its pods, so the old leader could not
    // release its Lease: the new operators lead once it runs out (leaseDurationMs, 15 s).
    await eventually("a kustomize-installed operator leading", () => leaderPod(kube), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    await eventually(
      "4 Sluice pods Ready",
      () => readyPods(kube, NAMESPACE, "app.kubernetes.io/part-of=sluice").length === 4,
      {
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    );
  });

  it("runs every pod to Ready", () => checkPodsReady(kube));
  it("reports the samples Accepted and Programmed by both gateway pods", () => checkSamplesProgrammed(kube));
  it("serves the sample route through the gateway Service", () => checkSampleServed(info, kube));
  it("follows the backend's scaling under load without a failed request", () =>
    checkTrafficFollowsScaling(info, kube, "scenario 8"));
});
