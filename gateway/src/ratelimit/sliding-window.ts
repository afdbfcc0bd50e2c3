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
import type { AlgorithmStep } from "./algorithm.ts";

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
    return {
      allowed: true,
      remaining: limit - (previous * weight + count),
      resetMs: 2 * periodMs - elapsed,
      retryAfterMs: 0,
      next: { window, count, previous },
      ttlMs: 2 * periodMs - elapsed,
    };
  }
  let retryAfterMs: number;
  if (count + cost <= limit) {
    // Wait in this window until the previous window's weight has shrunk enough.
    retryAfterMs = periodMs - ((limit - count - cost) * periodMs) / previous - elapsed;
  } else {
    // Wait into the next window, where this window's count becomes the weighted one.
    const into = count > 0 ? periodMs - ((limit - cost) * periodMs) / count : 0;
    retryAfterMs = periodMs - elapsed + Math.max(0, into);
  }
  const resetMs = count > 0 ? 2 * periodMs - elapsed : previous > 0 ? periodMs - elapsed : 0;
  return { allowed: false, remaining: limit - estimate, resetMs, retryAfterMs };
};
