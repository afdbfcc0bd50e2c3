// Scenario 6: a gateway container's process is killed (SIGKILL, as a crash or the OOM
// killer would end it) under steady load. Requests in flight on that pod fail — that is the
// figure this reports — the container restarts, and traffic recovers on both pods.
import { describe, expect, it } from "vitest";
import { eventually, sleep } from "../../test-support/index.ts";
import { startLoad, summary } from "./harness/load.ts";
import { killContainerProcess } from "./harness/providers.ts";
import {
  cluster,
  condition,
  ensureTrafficRoute,
  getJsonAsync,
  type Json,
  NAMESPACE,
  TRAFFIC,
} from "./harness/release.ts";

const { info, kube } = cluster();

describe("scenario 6: a gateway process killed", () => {
  it("restarts the container and recovers; only requests on that pod fail", async () => {
    const url = await ensureTrafficRoute(info, kube);
    const gateways = async () =>
      (
        (await getJsonAsync(kube, "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=gateway"))
          .items as Json[]
      ).filter((p) => !p.metadata.deletionTimestamp);
    const victim = (await gateways())[0] as Json;
    const name = victim.metadata.name as string;
    const restarts = victim.status.containerStatuses[0].restartCount as number;

    const load = startLoad({ url, host: TRAFFIC.host, ratePerSecond: 200 });
    try {
      await sleep(1000);
      const killedAt = load.now();
      killContainerProcess(info, victim.status.containerStatuses[0].containerID);
      const readyAgainMs = await eventually(
        `${name} restarted and Ready`,
        async () => {
          const pod = (await gateways()).find((p) => p.metadata.name === name);
          return (
            pod !== undefined &&
            pod.status.containerStatuses[0].restartCount > restarts &&
            condition(pod, "Ready")?.status === "True" &&
            load.now() - killedAt
          );
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // Recovered: a full second of answers, all good, after the pod is back.
      await sleep(2000);
      const outcomes = await load.stop();
      const failed = outcomes.filter((o) => o.status !== 200);
      const lastFailure = Math.max(killedAt, ...failed.map((o) => o.at));
      console.log(
        `[scenario 6] killed ${name}: ${failed.length} failed requests, the last sent ${(lastFailure - killedAt).toFixed(0)} ms after the kill; container Ready again after ${readyAgainMs.toFixed(0)} ms; ${summary(outcomes)}`,
      );
      expect(outcomes.filter((o) => o.at > lastFailure).length).toBeGreaterThan(200);
      // Only what was on the killed pod: with two pods, far fewer than the requests sent while it was down.
      expect(failed.length).toBeLessThan(
        outcomes.filter((o) => o.at >= killedAt && o.at <= killedAt + readyAgainMs).length / 2,
      );
    } finally {
      await load.stop();
    }
  });
});
