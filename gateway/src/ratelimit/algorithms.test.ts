// The four algorithms as pure steps over an explicit clock: window edges, refill, bursts,
// spacing, and the retry/reset figures clients are told.
import { describe, expect, it } from "vitest";
import { type AlgorithmState, type AlgorithmStep, evaluateRule } from "./algorithm.ts";
import { fixedWindow } from "./fixed-window.ts";
import { leakyBucket } from "./leaky-bucket.ts";
import { slidingWindow } from "./sliding-window.ts";
import { tokenBucket } from "./token-bucket.ts";
import type { Algorithm } from "./types.ts";

/** Runs requests at the given times against one key; returns "+"/"-" per request. */
function run(
  step: AlgorithmStep,
  quota: { limit: number; burst?: number; periodMs: number },
  times: number[],
) {
  let state: AlgorithmState | undefined;
  const q = { burst: 0, ...quota };
  return times
    .map((t) => {
      const e = step(state, t, q, 1);
      if (e.allowed) state = e.next;
      return e.allowed ? "+" : "-";
    })
    .join("");
}

const repeat = (t: number, n: number) => Array.from({ length: n }, () => t);

describe("FixedWindow", () => {
  const quota = { limit: 3, periodMs: 1000 };

  it("counts per epoch-aligned window and resets at the edge", () => {
    expect(run(fixedWindow, quota, [...repeat(10_000, 4), 10_999, 11_000, 11_000, 11_000, 11_000])).toBe(
      "+++--+++-",
    );
  });

  it("allows 2× the limit across an edge (the documented price)", () => {
    expect(run(fixedWindow, quota, [...repeat(10_999, 3), ...repeat(11_000, 3)])).toBe("++++++");
  });

  it("tells the time to the window end as reset and retry", () => {
    const full = { window: 10, count: 3 };
    const e = fixedWindow(full, 10_250, { ...quota, burst: 0 }, 1);
    expect(e).toMatchObject({ allowed: false, remaining: 0, resetMs: 750, retryAfterMs: 750 });
    const ok = fixedWindow(undefined, 10_250, { ...quota, burst: 0 }, 1);
    expect(ok).toMatchObject({ allowed: true, remaining: 2, resetMs: 750, ttlMs: 750 });
  });
});

describe("SlidingWindow", () => {
  const quota = { limit: 10, periodMs: 1000 };

  it("weights the previous window by its remaining overlap", () => {
    // 10 at the end of window 0; at 25% into window 1 the estimate is 10 × 0.75 = 7.5 → 2 more.
    const times = [...repeat(999, 10), ...repeat(1250, 4)];
    expect(run(slidingWindow, quota, times)).toBe(`${"+".repeat(12)}--`);
  });

  it("forgets a window two windows back", () => {
    expect(run(slidingWindow, quota, [...repeat(500, 10), ...repeat(2000, 10), 2000])).toBe(
      `${"+".repeat(20)}-`,
    );
  });

  it("never exceeds the limit within one fixed window", () => {
    const times = Array.from({ length: 100 }, (_, i) => 1000 + i * 5);
    expect(run(slidingWindow, quota, times).split("+").length - 1).toBe(10);
  });

  it("retry-after is exactly when the weighted estimate admits one more", () => {
    const state = { window: 1, count: 2, previous: 10 };
    const e = slidingWindow(state, 1250, { ...quota, burst: 0 }, 1);
    // needs 10 × (1 − f) ≤ 7 → f ≥ 0.3 → at 1300 ms, 50 ms from now.
    expect(e).toMatchObject({ allowed: false, retryAfterMs: 50 });
    expect(slidingWindow(state, 1250 + e.retryAfterMs, { ...quota, burst: 0 }, 1).allowed).toBe(true);
  });

  it("when the current window alone is full, waits into the next window", () => {
    const state = { window: 1, count: 10, previous: 0 };
    const e = slidingWindow(state, 1500, { ...quota, burst: 0 }, 1);
    // next window: 10 × (1 − g) ≤ 9 → g ≥ 0.1: 500 + 100 ms.
    expect(e.retryAfterMs).toBeCloseTo(600, 9);
    // Quota comes back then too (it used to say 1500 ms: the window pair's end).
    expect(e.resetMs).toBe(e.retryAfterMs);
  });
});

describe("TokenBucket", () => {
  it("starts full at requests + burst, then refills at requests per period", () => {
    const quota = { limit: 10, burst: 5, periodMs: 1000 };
    // 15 at once, then one per 100 ms.
    expect(run(tokenBucket, quota, [...repeat(0, 16), 99, 100, 150, 200])).toBe(`${"+".repeat(15)}--+-+`);
  });

  it("burst 0 allows one period's quota at once", () => {
    expect(run(tokenBucket, { limit: 3, periodMs: 3000 }, [...repeat(0, 4), 1000])).toBe("+++-+");
  });

  it("never fills beyond capacity after a long idle time", () => {
    expect(run(tokenBucket, { limit: 2, burst: 1, periodMs: 1000 }, [0, ...repeat(1e9, 4)])).toBe("++++-");
  });

  it("reports retry and reset both until the next whole token, not until full", () => {
    const q = { limit: 10, burst: 0, periodMs: 1000 };
    const e = tokenBucket({ tokens: 0.5, updatedAt: 0 }, 0, q, 1);
    expect(e).toMatchObject({ allowed: false });
    expect(e.retryAfterMs).toBeCloseTo(50, 9);
    expect(e.resetMs).toBeCloseTo(50, 9);
    // Allowed with 3.25 tokens left: r = 3 until the 4th whole token, 75 ms later.
    const ok = tokenBucket({ tokens: 4.25, updatedAt: 0 }, 0, q, 1);
    expect(ok).toMatchObject({ allowed: true });
    expect(ok.resetMs).toBeCloseTo(75, 9);
    expect(ok.ttlMs).toBeCloseTo(675, 9);
  });

  it("does not refill when the clock steps back", () => {
    const e = tokenBucket({ tokens: 0, updatedAt: 5000 }, 4000, { limit: 10, burst: 0, periodMs: 1000 }, 1);
    expect(e.allowed).toBe(false);
  });
});

describe("LeakyBucket (GCRA)", () => {
  it("spaces requests one interval apart with burst 0", () => {
    const quota = { limit: 10, periodMs: 1000 }; // 100 ms apart
    expect(run(leakyBucket, quota, [0, 0, 50, 100, 150, 199, 200, 350])).toBe("+--+--++");
  });

  it("lets burst + 1 through at once", () => {
    expect(run(leakyBucket, { limit: 10, burst: 3, periodMs: 1000 }, [...repeat(0, 5), 100])).toBe("++++-+");
  });

  it("reports retry at the next conforming time", () => {
    const q = { limit: 10, burst: 0, periodMs: 1000 };
    const e = leakyBucket({ tat: 100 }, 30, q, 1);
    expect(e).toMatchObject({ allowed: false, retryAfterMs: 70, resetMs: 70 });
  });
});

describe("evaluateRule", () => {
  const quota = { limit: 1, burst: 0, periodMs: 1000 };
  const algorithms: Algorithm[] = ["FixedWindow", "SlidingWindow", "TokenBucket", "LeakyBucket"];

  it.each(algorithms)("%s: a zero quota refuses without touching state", (algorithm) => {
    const step = evaluateRule(algorithm, undefined, 0, { ...quota, limit: 0 }, 1, 0, 0);
    expect(step).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1000, blocked: false });
    expect(step.next).toBeUndefined();
  });

  it.each(algorithms)("%s: an existing block refuses for its remaining time", (algorithm) => {
    expect(evaluateRule(algorithm, undefined, 0, quota, 1, 1234.5, 5000)).toMatchObject({
      allowed: false,
      retryAfterMs: 1235,
      blocked: true,
    });
  });

  it.each(algorithms)("%s: a fresh refusal starts the block and reports it", (algorithm) => {
    const first = evaluateRule(algorithm, undefined, 0, quota, 1, 0, 5000);
    expect(first.allowed).toBe(true);
    const second = evaluateRule(algorithm, first.next, 0, quota, 1, 0, 5000);
    expect(second).toMatchObject({ allowed: false, retryAfterMs: 5000, blocked: true, startBlockMs: 5000 });
  });

  it.each(algorithms)("%s: a cost above capacity reports one period, not Infinity", (algorithm) => {
    const step = evaluateRule(algorithm, undefined, 0, quota, 5, 0, 0);
    expect(step.allowed).toBe(false);
    expect(Number.isFinite(step.retryAfterMs)).toBe(true);
  });

  // draft-ietf-httpapi-ratelimit-headers-10: t is the time until more quota is available,
  // and Retry-After must not be earlier than t. Walk a key through bursts and pauses and
  // check, at every step: a refusal's t is its retry; an answer's t is exactly when one more
  // whole request of quota is back (not before: 1 ms earlier there is none).
  it.each(algorithms)("%s: t is when more quota comes back; a refusal's t equals its retry", (algorithm) => {
    const windows = algorithm === "FixedWindow" || algorithm === "SlidingWindow";
    const q = { limit: 4, burst: windows ? 0 : 2, periodMs: 1000 };
    const probe = (s: AlgorithmState | undefined, at: number) => evaluateRule(algorithm, s, at, q, 0, 0, 0);
    let state: AlgorithmState | undefined;
    let now = 10_250;
    let checked = 0;
    for (const gap of [0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 400, 0, 0, 0, 0, 0, 777, 0, 0, 0, 0, 0]) {
      now += gap;
      const step = evaluateRule(algorithm, state, now, q, 1, 0, 0);
      if (!step.allowed) {
        expect(step.resetMs).toBe(step.retryAfterMs);
        expect(evaluateRule(algorithm, state, now + step.retryAfterMs, q, 1, 0, 0).allowed).toBe(true);
        continue;
      }
      state = step.next;
      if (step.resetMs === 0) continue;
      checked++;
      expect(probe(state, now + step.resetMs).remaining).toBeGreaterThan(step.remaining);
      if (step.resetMs > 1) expect(probe(state, now + step.resetMs - 1).remaining).toBe(step.remaining);
    }
    expect(checked).toBeGreaterThan(5);
  });

  it.each(algorithms)("%s: integers out, retry ≥ 1 ms on refusal", (algorithm) => {
    const q = { limit: 3, burst: 0, periodMs: 1000 };
    let state: AlgorithmState | undefined;
    for (let i = 0; i < 5; i++) {
      const step = evaluateRule(algorithm, state, 333.3 * i * 0.01, q, 1, 0, 0);
      if (step.next) state = step.next;
      for (const v of [step.remaining, step.resetMs, step.retryAfterMs])
        expect(Number.isInteger(v)).toBe(true);
      if (!step.allowed) expect(step.retryAfterMs).toBeGreaterThanOrEqual(1);
    }
  });
});
