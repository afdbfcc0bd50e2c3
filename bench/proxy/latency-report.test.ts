import { describe, expect, it } from "vitest";
import {
  generatorBound,
  type LatencyRow,
  NGINX_AT_SLUICE_RATE,
  p99Verdict,
  type Run,
} from "./latency-report.ts";

/** A round: vegeta sent `rate` req/s and the p99 was `p99` ms. */
const run = (p99: number, rate = 1000): Run => ({
  requests: rate * 30,
  rate,
  success: 1,
  p50: p99 / 4,
  p90: p99 / 2,
  p99,
  p999: p99 * 2,
  max: p99 * 3,
  errors: [],
  busy: "50/40",
  foreign: 0,
});

const row = (target: string, p99s: number[], floor = 0.1, rate = 1000): LatencyRow => ({
  target,
  about: "",
  rate,
  runs: p99s.map((p) => run(p, rate)),
  floors: p99s.map(() => run(floor, rate)),
});

describe("p99Verdict", () => {
  it("compares the median p99s and lists the per-round differences", () => {
    const rows = [row("nginx", [0.5, 0.6, 0.4]), row("sluice", [1.2, 1.9, 1.3])];
    expect(p99Verdict(rows)).toBe(
      "sluice p99 − nginx p99 = 0.80 ms (target ≤ 1 ms): met; per round: 0.70 / 1.30 / 0.90",
    );
  });

  it("says missed above the margin", () => {
    expect(p99Verdict([row("nginx", [0.5]), row("sluice", [1.6])])).toBe(
      "sluice p99 − nginx p99 = 1.10 ms (target ≤ 1 ms): missed",
    );
  });

  it("holds sluice to nginx at sluice's rate when nginx's own row measured the generator", () => {
    const rows = [
      row("nginx", [30], 25, 30_000), // direct at that rate: 25 ms, most of nginx's 30
      row("sluice", [1.5]),
      row(NGINX_AT_SLUICE_RATE, [0.3]),
    ];
    expect(p99Verdict(rows)).toMatch(
      /^sluice p99 − nginx p99 = 1\.20 ms \(target ≤ 1 ms\): missed — against nginx at sluice's rate \(1,000 req\/s\), since direct at nginx's rate/,
    );
  });

  it("does not judge a sluice row that measured the generator", () => {
    const rows = [row("nginx", [0.5]), { ...row("sluice", [2]), rate: 5000 }];
    expect(p99Verdict(rows)).toMatch(
      /^sluice p99 − nginx p99: not judged, vegeta sent 1,000 req\/s of the 5,000/,
    );
  });

  it("needs both targets", () => {
    expect(p99Verdict([row("sluice", [1])])).toMatch(/not measured/);
  });
});

describe("generatorBound", () => {
  it("accepts a row well above its floor, sent at the rate asked", () => {
    expect(generatorBound(row("fastify", [2], 0.5))).toBeUndefined();
  });

  it("flags a floor above half the row's p99", () => {
    expect(generatorBound(row("fastify", [2], 1.5))).toMatch(/direct at fastify's rate had a p99 of 1.50 ms/);
  });
});
