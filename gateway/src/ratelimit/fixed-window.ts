// FixedWindow: one counter per window, windows aligned to the epoch (window = floor(now /
// period)), so every replica and every key shares the same edges. Exact within a window; a
// client can get up to 2× the limit across an edge (the end of one window and the start of
// the next), which is the price of the cheapest algorithm. Quota comes back only at the
// window's end: `resetMs` (the draft's t) is the time to it, refused or not.
import type { AlgorithmStep } from "./algorithm-step.ts";

export const fixedWindow: AlgorithmStep = (state, now, quota, cost) => {
  const { limit, periodMs } = quota;
  const window = Math.floor(now / periodMs);
  const count = state && state.window === window ? (state.count ?? 0) : 0;
  const resetMs = (window + 1) * periodMs - now;
  if (count + cost <= limit) {
    return {
      allowed: true,
      remaining: limit - count - cost,
      resetMs,
      retryAfterMs: 0,
      next: { window, count: count + cost },
      ttlMs: resetMs,
    };
  }
  return { allowed: false, remaining: limit - count, resetMs, retryAfterMs: resetMs };
};
