// The chart's --workers: gateway.workers, else the container's CPU limit rounded up, else no
// flag (the gateway reads its cgroup: 1 process without a limit). Rendered with helm only.
import { describe, expect, it } from "vitest";
import { CHART, findObject, helm, parseObjects, renderChart } from "./helm/helm.ts";

function workersFlag(values: string[]): string[] {
  const objects = parseObjects(renderChart("pkg", "workers", values));
  const gateway = findObject<{
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  }>(objects, "Deployment/workers/pkg-sluice-gateway");
  return (gateway.spec.template.spec.containers[0]?.args ?? []).filter((a) => a.startsWith("--workers"));
}

describe("the chart's gateway workers", () => {
  it.each([
    ["no CPU limit (the defaults)", [], []],
    ["a limit of 2 cores", ["--set", "gateway.resources.limits.cpu=2"], ["--workers=2"]],
    ["1500m, rounded up", ["--set-string", "gateway.resources.limits.cpu=1500m"], ["--workers=2"]],
    ["1.5, rounded up", ["--set", "gateway.resources.limits.cpu=1.5"], ["--workers=2"]],
    ["250m: one", ["--set-string", "gateway.resources.limits.cpu=250m"], ["--workers=1"]],
    ["a limit above 64 cores", ["--set", "gateway.resources.limits.cpu=100"], ["--workers=64"]],
    [
      "gateway.workers wins over the limit",
      ["--set", "gateway.workers=3,gateway.resources.limits.cpu=1"],
      ["--workers=3"],
    ],
    ["gateway.workers without a limit", ["--set", "gateway.workers=1"], ["--workers=1"]],
  ])("%s: %j", (_, values, expected) => {
    expect(workersFlag(values)).toEqual(expected);
  });

  it.each([
    ["gateway.workers=0", "at '/gateway/workers': minimum"],
    ["gateway.workers=65", "at '/gateway/workers': maximum"],
  ])("refuses %s", (value, message) => {
    const res = helm(["template", "pkg", CHART, "--set", value]);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain(message);
  });
});
