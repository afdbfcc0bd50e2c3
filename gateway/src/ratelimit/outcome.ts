// What the data plane does with a decision, per policy settings: pass (with headers), 429
// with Retry-After, or, when the store failed, what each failed policy's failureMode says.
// A refusal by a rule that did answer wins over a store failure: the request is over a
// limit either way.
import type { SnapshotRateLimitPolicy } from "../../../core/api/snapshot/schema.ts";
import { remainingFraction } from "./decision.ts";
import { quotaPolicyName, rateLimitHeaders, retryAfterHeader } from "./headers.ts";
import { RateLimitProblem } from "./problems.ts";
import type { LimitDecision, RuleOutcome } from "./types.ts";

export type RateLimitOutcome =
  | {
      action: "pass";
      headers: Record<string, string>;
      /** Rules whose store failed and whose policy fails open: log and count them. */
      failedOpen: RuleOutcome[];
    }
  | {
      action: "refuse";
      problem: (typeof RateLimitProblem)[keyof typeof RateLimitProblem];
      detail: string;
      headers: Record<string, string>;
      failedOpen: RuleOutcome[];
    };

/** Shared by every passing request: frozen, so no caller can add to it. */
const NONE = Object.freeze([]) as unknown as RuleOutcome[];

type PolicyLookup = (
  id: string,
) => Pick<SnapshotRateLimitPolicy, "failureMode" | "responseHeaders"> | undefined;

export function rateLimitOutcome(decision: LimitDecision, policyOf: PolicyLookup): RateLimitOutcome {
  const mode = (o: RuleOutcome) => policyOf(o.policyId)?.responseHeaders ?? "Draft";
  // The common case, every rule answered and passed: no failure lists to build.
  if (decision.allowed && !decision.storeFailed)
    return { action: "pass", headers: headersForPass(decision.rules, mode), failedOpen: NONE };
  const failed = decision.rules.filter((r) => r.status === "failed");
  const failedClosed = failed.filter((r) => policyOf(r.policyId)?.failureMode === "Closed");
  const failedOpen = failed.filter((r) => policyOf(r.policyId)?.failureMode !== "Closed");

  if (!decision.allowed) {
    const refused = decision.mostRestrictive as RuleOutcome;
    return {
      action: "refuse",
      problem: RateLimitProblem.QuotaExceeded,
      detail: `rate limit ${quotaPolicyName(refused)} exceeded${refused.blocked ? " (blocked)" : ""}; retry in ${decision.retryAfterSeconds} s`,
      headers: {
        ...rateLimitHeaders(refused, mode(refused)),
        ...retryAfterHeader(decision.retryAfterSeconds),
      },
      failedOpen,
    };
  }
  if (failedClosed.length > 0) {
    const first = failedClosed[0] as RuleOutcome;
    return {
      action: "refuse",
      problem: RateLimitProblem.LimiterUnavailable,
      detail: `rate limit ${quotaPolicyName(first)} could not be checked (${first.failure ?? "unavailable"})`,
      headers: retryAfterHeader(1),
      failedOpen,
    };
  }
  if (failed.length > 0) return { action: "pass", headers: {}, failedOpen };
  return { action: "pass", headers: headersForPass(decision.rules, mode), failedOpen };
}

/** The tightest rule among those whose policy reports headers. */
function headersForPass(rules: RuleOutcome[], mode: (o: RuleOutcome) => string): Record<string, string> {
  let best: RuleOutcome | undefined;
  for (const o of rules) {
    if (mode(o) === "None") continue;
    if (!best || remainingFraction(o) < remainingFraction(best)) best = o;
  }
  return best ? rateLimitHeaders(best, mode(best) as "Draft" | "DraftAndLegacy") : {};
}
