// LeakyBucket as GCRA (the generic cell rate algorithm): requests are spaced one emission
// interval T = period / requests apart; the theoretical arrival time (tat) moves forward by
// T per accepted request. burst is the tolerance: up to burst + 1 requests may arrive at
// once, after which they pass evenly spaced. One number of state, no counters to reset.
import type { AlgorithmStep } from "./algorithm.ts";

export const leakyBucket: AlgorithmStep = (state, now, quota, cost) => {
  const interval = quota.periodMs / quota.limit;
  const capacity = quota.burst + 1;
  const tat = Math.max(state?.tat ?? now, now);
  const newTat = tat + cost * interval;
  const allowAt = newTat - capacity * interval;
  if (now >= allowAt) {
    return {
      allowed: true,
      remaining: capacity - (newTat - now) / interval,
      resetMs: newTat - now,
      retryAfterMs: 0,
      next: { tat: newTat },
      ttlMs: newTat - now,
    };
  }
  return {
    allowed: false,
    remaining: capacity - (tat - now) / interval,
    resetMs: tat - now,
    retryAfterMs: allowAt - now,
  };
};
