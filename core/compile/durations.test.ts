import { describe, expect, it } from "vitest";
import { durationMs } from "./durations.ts";

describe("durationMs", () => {
  it.each([
    ["250ms", 250],
    ["1m", 60_000],
    ["1m1ms", 60_001],
    ["1h30m", 5_400_000],
    ["59s999ms", 59_999],
    ["0h0m0s0ms", 0],
  ])("reads %s as %d ms", (value, ms) => {
    expect(durationMs(value)).toBe(ms);
  });
});
