// SlidingWindow: weighted counters of two fixed windows (the Cloudflare / nginx approach).
// The estimate is previous × (share of the sliding interval still inside the previous window)
// + current. It assumes the previous window's requests were spread evenly:
//   - within one fixed window, accepted ≤ limit (the estimate is never below `current`);
//   - over any interval of one period, accepted ≤ limit + previous × f, where f is how far
//     into the current window we are: < 2 × limit in the adversarial case where the whole
//     previous window arrived just before its end, exact when arrivals are even;
//   - it may refuse early by up to previous × (1 − f) when the previous window's requests
//     came at its start.
// State: {window, count, previous}; two windows are kept, so the state lives 2 periods.
// Quota comes back as the previous window's weight shrinks and at each window edge:
// `resetMs` (the draft's t) is the time until the estimate admits one more whole request.
import type { AlgorithmStep } from "./algorithm-step.ts";

export const slidingWindow: AlgorithmStep = (state, now, quota, cost) => {
  const { limit, periodMs } = quota;
  const window = Math.floor(now / periodMs);
  const elapsed = now - window * periodMs;
  const weight = (periodMs - elapsed) / periodMs;
  let count = 0;
  let previous = 0;
  if (state && state.window === window) {
    count = state.count ?? 0;
    previous = state.previous ?? 0;
  } else if (state && state.window === window - 1) {
    previous = state.count ?? 0;
  }
  const estimate = previous * weight + count;
  if (estimate + cost <= limit) {
    count += cost;
    const remaining = limit - (previous * weight + count);
    return {
      allowed: true,
      remaining,
      // More quota: when one more whole request than now would pass.
      resetMs: waitFor(Math.floor(remaining) + 1, count, previous, elapsed, limit, periodMs),
      retryAfterMs: 0,
      next: { window, count, previous },
      ttlMs: 2 * periodMs - elapsed,
    };
  }
  const wait = waitFor(cost, count, previous, elapsed, limit, periodMs);
  return { allowed: false, remaining: limit - estimate, resetMs: wait, retryAfterMs: wait };
};

/** Milliseconds until the estimate leaves room for `units` more (the estimate only falls). */
function waitFor(
  units: number,
  count: number,
  previous: number,
  elapsed: number,
  limit: number,
  periodMs: number,
): number {
  if (count + units <= limit) {
    // In this window, once the previous window's weight has shrunk enough.
    if (previous <= 0) return 0;
    return Math.max(0, periodMs - ((limit - count - units) * periodMs) / previous - elapsed);
  }
  // Into the next window, where this window's count becomes the weighted one.
  const into = count > 0 ? periodMs - ((limit - units) * periodMs) / count : 0;
  return periodMs - elapsed + Math.max(0, into);
}
