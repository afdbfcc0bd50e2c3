// Scenario 5: deleting the leading operator pod hands the lease to the warm standby within
// the lease duration, and a change made meanwhile is compiled, published and served.
import { describe, expect, it, onTestFinished } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  cluster,
  echoRoute,
  ensureTrafficRoute,
  leaderPod,
  NAMESPACE,
  readyPods,
  TRAFFIC,
  waitServed,
} from "./harness/release.ts";

const { info, kube } = cluster();
const LEASE_DURATION_MS = 15_000; // the chart's default operator.leaseDurationMs

describe("scenario 5: operator leader failover", () => {
  it("another operator leads within the lease and serves a change made meanwhile", async () => {
    const url = await ensureTrafficRoute(info, kube);
    const operators = readyPods(kube, NAMESPACE, "app.kubernetes.io/component=operator");
    expect(operators).toHaveLength(2);
    const leader = await eventually("a leading operator pod", () => leaderPod(kube), { timeoutMs: 30_000 });
    const standby = operators.find((p) => p !== leader);

    const start = performance.now();
    kube.kubectl("delete", "pod", leader, "-n", NAMESPACE, "--wait=false");
    // The change is made while the leader is going away: a route to the traffic pool.
    const host = "failover.e2e.sluice.dev";
    kube.apply([echoRoute(TRAFFIC.namespace, "failover", host, TRAFFIC.name)[1]]);
    onTestFinished(() => {
      kube.kubectl("delete", "gatewayroute", "failover", "-n", TRAFFIC.namespace, "--ignore-not-found");
    });
    // The warm standby usually wins; the leader's replacement may, if it is quicker to ask.
    const next = await eventually(
      "another operator pod leading",
      () => {
        const now = leaderPod(kube);
        return now !== undefined && now !== leader && now;
      },
      { timeoutMs: LEASE_DURATION_MS + 10_000, intervalMs: 100 },
    );
    const failoverMs = performance.now() - start;
    await waitServed(url, host, 30_000);
    const servedMs = performance.now() - start;
    console.log(
      `[scenario 5] leader ${leader} deleted: ${next === standby ? "the standby" : "its replacement"} ${next} leads after ${failoverMs.toFixed(0)} ms; the change made meanwhile served after ${servedMs.toFixed(0)} ms`,
    );
    expect(failoverMs).toBeLessThan(LEASE_DURATION_MS);
  });
});
