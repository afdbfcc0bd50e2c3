// LeakyBucket as GCRA (the generic cell rate algorithm): requests are spaced one emission
// interval T = period / requests apart; the theoretical arrival time (tat) moves forward by
// T per accepted request. burst is the tolerance: up to burst + 1 requests may arrive at
// once, after which they pass evenly spaced. One number of state, no counters to reset.
// Quota comes back one interval at a time: `resetMs` (the draft's t) is the time until one
// more whole request conforms.
import type { AlgorithmStep } from "./algorithm-step.ts";

export const leakyBucket: AlgorithmStep = (state, now, quota, cost) => {
  const interval = quota.periodMs / quota.limit;
  const capacity = quota.burst + 1;
  const tat = Math.max(state?.tat ?? now, now);
  const newTat = tat + cost * interval;
  const allowAt = newTat - capacity * interval;
  if (now >= allowAt) {
    const remaining = capacity - (newTat - now) / interval;
    // More quota: when one more whole request would conform (none when already at capacity).
    const more = Math.floor(remaining) + 1;
    return {
      allowed: true,
      remaining,
      resetMs: more > capacity ? 0 : newTat - now - (capacity - more) * interval,
      retryAfterMs: 0,
      next: { tat: newTat },
      ttlMs: newTat - now,
    };
  }
  const wait = allowAt - now;
  return { allowed: false, remaining: capacity - (tat - now) / interval, resetMs: wait, retryAfterMs: wait };
};
