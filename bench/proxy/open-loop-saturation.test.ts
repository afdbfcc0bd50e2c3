import { describe, expect, it } from "vitest";
import { findSaturation, P99_LIMIT_MS, type Probe, verdict } from "./open-loop-saturation.ts";

/** A target that keeps up below `saturation` req/s, and a generator that cannot send above `max`. */
function model(saturation: number, max = Number.POSITIVE_INFINITY) {
  const asked: number[] = [];
  const attack = async (rate: number): Promise<Probe> => {
    asked.push(rate);
    const sent = Math.min(rate, max);
    const behind = sent > saturation;
    return { rate, sent, success: behind ? 0.98 : 1, p99: behind ? 900 : 2 };
  };
  return { attack, asked };
}

describe("verdict", () => {
  it.each([
    [{ rate: 1000, sent: 1000, success: 1, p99: 3 }, "keeps up"],
    [{ rate: 1000, sent: 1000, success: 1, p99: P99_LIMIT_MS + 1 }, "falls behind"],
    [{ rate: 1000, sent: 1000, success: 0.99, p99: 3 }, "falls behind"],
    [{ rate: 1000, sent: 900, success: 1, p99: 3 }, "generator-bound"],
  ])("%j: %s", (probe, want) => {
    expect(verdict(probe)).toBe(want);
  });
});

describe("findSaturation", () => {
  it("rises from below to the target's saturation, never above a rate it kept up with", async () => {
    const m = model(7_300);
    const s = await findSaturation(2_000, m.attack);
    expect(s.generatorBound).toBe(false);
    expect(s.rate).toBeLessThanOrEqual(7_300);
    expect(s.rate).toBeGreaterThan(7_300 * 0.95);
    expect(s.probes.find((p) => p.rate === s.rate)?.verdict).toBe("keeps up");
  });

  it("comes down when the start is already too fast", async () => {
    const m = model(3_000);
    const s = await findSaturation(12_000, m.attack);
    expect(s.rate).toBeLessThanOrEqual(3_000);
    expect(s.rate).toBeGreaterThan(3_000 * 0.95);
  });

  it("says so when the generator is the limit, with the last rate the target kept up with", async () => {
    const m = model(50_000, 9_000);
    const s = await findSaturation(5_000, m.attack);
    expect(s.generatorBound).toBe(true);
    expect(s.rate).toBeLessThanOrEqual(9_000);
    expect(s.rate).toBeGreaterThanOrEqual(5_000);
  });
});
