import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { cpuSplit, gatewayCpu, processCpuNs, processTree, projectedScaling, sampleTree } from "./workers.ts";

describe("gatewayCpu", () => {
  it("adds the primary's CPU in the window to each worker's", () => {
    const before = new Map([
      [10, 1_000],
      [11, 5_000],
      [12, 7_000],
    ]);
    const after = new Map([
      [10, 1_300],
      [11, 9_000],
      [12, 10_500],
    ]);
    expect(gatewayCpu(10, before, after)).toEqual({
      totalNs: 300 + 4_000 + 3_500,
      primaryNs: 300,
      workersNs: new Map([
        [11, 4_000],
        [12, 3_500],
      ]),
      changed: false,
    });
  });

  it.each([
    ["a worker exited", new Map([[10, 0]])],
    [
      "a worker started",
      new Map([
        [10, 0],
        [11, 0],
        [12, 0],
        [13, 0],
      ]),
    ],
  ])("says so when %s within the window", (_, after) => {
    const before = new Map([
      [10, 0],
      [11, 0],
      [12, 0],
    ]);
    expect(gatewayCpu(10, before, after).changed).toBe(true);
  });

  it("is one process's CPU without workers", () => {
    const cpu = gatewayCpu(10, new Map([[10, 100]]), new Map([[10, 700]]));
    expect(cpu).toMatchObject({ totalNs: 600, primaryNs: 600, changed: false });
    expect(cpu.workersNs.size).toBe(0);
  });
});

describe("projectedScaling", () => {
  it.each([
    [50, 50, 2],
    [50, 52, 1.923],
    [40, 50, 1.6],
  ])("2 workers at %d µs/req of one, %d µs/req of two: ×%d", (one, two, expected) => {
    expect(projectedScaling(2, one, two)).toBeCloseTo(expected, 3);
  });
});

describe("cpuSplit", () => {
  it.each([
    [[500, 500], [50, 50], 0],
    [[600, 400], [60, 40], 0.4],
    [[1000, 0], [100, 0], 2],
    [[], [], 0],
  ])("%j: shares %j, spread %d", (ns, shares, spread) => {
    const split = cpuSplit(ns);
    expect(split.shares).toEqual(shares);
    expect(split.spread).toBeCloseTo(spread, 6);
  });
});

describe("processTree and its CPU, on real processes", () => {
  it("finds children and grandchildren, and their CPU grows while they spin", async () => {
    // sh → sh (spinning) → sleep: a child, and a grandchild.
    const root = spawn("sh", ["-c", "sh -c 'sleep 30 & while :; do :; done' & wait"], { stdio: "ignore" });
    const pid = root.pid as number;
    try {
      const tree = await eventually("three processes in the tree", () => {
        const t = processTree(pid);
        return t.length === 3 && t;
      });
      expect(tree[0]).toBe(pid);
      const before = sampleTree(pid);
      // 50 ms of spinning, all of it in the child: the root and the grandchild wait.
      const cpu = await eventually("50 ms of CPU", () => {
        const c = gatewayCpu(pid, before, sampleTree(pid));
        return c.totalNs > 50e6 && c;
      });
      expect(cpu.changed).toBe(false);
      expect(cpu.workersNs.get(tree[1] as number)).toBeGreaterThan(0.9 * cpu.totalNs);
    } finally {
      for (const p of processTree(pid).reverse()) process.kill(p, "SIGKILL");
    }
  });

  it("is the root alone, with 0 CPU, for a process that is gone", () => {
    expect(processTree(2 ** 22 + 1)).toEqual([2 ** 22 + 1]);
    expect(processCpuNs(2 ** 22 + 1)).toBe(0);
  });
});
