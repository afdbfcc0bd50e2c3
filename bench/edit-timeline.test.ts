import { describe, expect, it } from "vitest";
import { editTimeline, type LogLine, logLines, percentile } from "./edit-timeline.ts";

describe("percentile (nearest rank)", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
  it.each([
    [hundred, 50, 50],
    [hundred, 99, 99],
    [hundred, 100, 100],
    [hundred, 0, 1],
    [[7], 99, 7],
    [[3, 1, 2], 50, 2],
    [[1, 2, 3, 4], 90, 4],
  ])("of %j at p%d is %d", (values, p, want) => {
    expect(percentile(values, p)).toBe(want);
  });
  it("is NaN without values", () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("logLines", () => {
  it("keeps JSON lines with a time and a message, and skips the rest", () => {
    const text = [
      '{"level":"info","time":"1970-01-01T00:00:01.000Z","msg":"compiled","version":"v1","compileMs":12.5}',
      '{"level":"info","time":"not a time","msg":"compiled"}',
      "Error: something",
      "    at foo (x.ts:1:1)",
      '{"no":"time"}',
      "{broken",
      "",
    ].join("\n");
    expect(logLines(text)).toEqual([
      { level: "info", time: 1000, msg: "compiled", version: "v1", compileMs: 12.5 },
    ]);
  });
});

describe("editTimeline", () => {
  const operator: LogLine[] = [
    { time: 900, msg: "compiled", version: "v0", compileMs: 5 },
    { time: 910, msg: "snapshot published", version: "v0" },
    { time: 1100, msg: "compiled", version: "v1", compileMs: 8 },
    { time: 1130, msg: "snapshot published", version: "v1" },
    // A status-only reconcile compiles the same version again later.
    { time: 1400, msg: "compiled", version: "v1", compileMs: 7 },
  ];
  const replicas: LogLine[][] = [
    [
      { time: 915, msg: "snapshot loaded", version: "v0" },
      { time: 1160, msg: "snapshot loaded", version: "v1" },
    ],
    [{ time: 920, msg: "snapshot loaded", version: "v0" }],
  ];

  it("follows the first publish after the edit was stored to each replica's load", () => {
    expect(editTimeline(1000, operator, replicas)).toEqual({
      version: "v1",
      compiledAt: 1100,
      compileMs: 8,
      publishedAt: 1130,
      loadedAt: [1160, undefined],
    });
  });

  it("counts a publish in the same millisecond as the store", () => {
    expect(editTimeline(910, operator, replicas)?.version).toBe("v0");
  });

  it("is undefined when nothing was published after the edit", () => {
    expect(editTimeline(1200, operator, replicas)).toBeUndefined();
  });
});
