// The effective quota of a rule for one key value: overrides replace requests (and burst,
// when they give one) for the key they match. Lookups are cached per rule object, which is
// immutable for the life of a snapshot.
import type { LimitCheck, RateLimitRule, RuleOutcome, StoreFailure } from "./types.ts";

export interface Quota {
  /** Requests per period; 0 refuses every request (an override can switch a key off). */
  limit: number;
  /** Extra requests allowed at once (TokenBucket, LeakyBucket); 0 for the window algorithms. */
  burst: number;
  periodMs: number;
}

const overridesByRule = new WeakMap<RateLimitRule, Map<string, RateLimitRule["overrides"][number]>>();

export function quotaFor(rule: RateLimitRule, key: string | undefined): Quota {
  const base = { limit: rule.requests, burst: rule.burst ?? 0, periodMs: rule.periodMs };
  if (key === undefined || rule.overrides.length === 0) return base;
  let byMatch = overridesByRule.get(rule);
  if (!byMatch) {
    byMatch = new Map(rule.overrides.map((o) => [o.match, o]));
    overridesByRule.set(rule, byMatch);
  }
  const o = byMatch.get(key);
  // An override without its own burst keeps the rule's burst: it changes the rate, not the shape.
  return o ? { limit: o.requests, burst: o.burst ?? base.burst, periodMs: base.periodMs } : base;
}

/** A check the store could not answer: its policy's failureMode decides what happens. */
export function failedOutcome(check: LimitCheck, failure: StoreFailure): RuleOutcome {
  const quota = quotaFor(check.rule, check.key);
  return {
    policyId: check.policyId,
    rule: check.rule.name,
    status: "failed",
    limit: quota.limit,
    windowMs: quota.periodMs,
    remaining: 0,
    resetMs: 0,
    retryAfterMs: 0,
    blocked: false,
    failure,
  };
}
