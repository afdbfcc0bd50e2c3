// Folds per-rule outcomes into one decision: refused if any rule refused, and which rule to
// report. The refusing rule with the longest wait is reported (after waiting that long the
// others would pass too); otherwise the rule with the lowest remaining fraction.
import type { LimitDecision, RuleOutcome } from "./types.ts";

/** remaining / limit, with remaining capped at limit (buckets can hold more than one period's quota). */
export function remainingFraction(o: RuleOutcome): number {
  return o.limit > 0 ? Math.min(o.remaining, o.limit) / o.limit : 0;
}

export function decide(rules: RuleOutcome[]): LimitDecision {
  let refused: RuleOutcome | undefined;
  let tightest: RuleOutcome | undefined;
  let storeFailed = false;
  for (const o of rules) {
    if (o.status === "failed") storeFailed = true;
    else if (o.status === "refused") {
      if (!refused || o.retryAfterMs > refused.retryAfterMs) refused = o;
    } else if (!tightest || remainingFraction(o) < remainingFraction(tightest)) tightest = o;
  }
  return {
    allowed: refused === undefined,
    storeFailed,
    rules,
    mostRestrictive: refused ?? tightest,
    retryAfterSeconds: refused ? Math.max(1, Math.ceil(refused.retryAfterMs / 1000)) : 0,
  };
}
