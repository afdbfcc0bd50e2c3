// TokenBucket: capacity = requests + burst, refilled continuously at requests per period.
// A fresh (or long idle) key starts full, so with burst 0 a client may spend a whole
// period's quota at once and then gets one request every period/requests; `burst` adds
// requests on top of that. State: {tokens, updatedAt}; the key expires when the bucket
// would be full again, which is indistinguishable from a fresh key. Quota comes back one
// token at a time, so `resetMs` (the draft's t) is the time to the next whole token.
import type { AlgorithmStep } from "./algorithm-step.ts";

export const tokenBucket: AlgorithmStep = (state, now, quota, cost) => {
  const capacity = quota.limit + quota.burst;
  const rate = quota.limit / quota.periodMs;
  let tokens = capacity;
  if (state) {
    // Never refill backwards if the clock stepped back (e.g. a Redis failover to a skewed host).
    const elapsed = Math.max(0, now - (state.updatedAt ?? now));
    tokens = Math.min(capacity, (state.tokens ?? capacity) + elapsed * rate);
  }
  if (tokens >= cost) {
    tokens -= cost;
    // More quota: the next whole token (clients see whole requests). A full bucket gets none.
    const more = Math.floor(tokens) + 1;
    return {
      allowed: true,
      remaining: tokens,
      resetMs: more > capacity ? 0 : (more - tokens) / rate,
      retryAfterMs: 0,
      next: { tokens, updatedAt: now },
      ttlMs: (capacity - tokens) / rate,
    };
  }
  const wait = (cost - tokens) / rate;
  return { allowed: false, remaining: tokens, resetMs: wait, retryAfterMs: wait };
};
