// The two-phase check over all rules of a request, shared by the in-memory limiter (and
// mirrored by check.lua for Redis): evaluate every rule against current state, then write
// new state for all of them only if all passed. A request refused by one rule therefore
// consumes nothing from the others, which keeps every rule's accepted count exact.
import { type AlgorithmState, evaluateRule, type RuleStep } from "./algorithm.ts";
import { quotaFor } from "./quota.ts";
import { algorithmOf, type RuleKeys, ruleKeys } from "./store-keys.ts";
import type { LimitCheck, RuleOutcome } from "./types.ts";

/** Synchronous state access; the memory limiter implements it over an LRU map. */
export interface StateStore {
  getState(key: string, now: number): AlgorithmState | undefined;
  setState(key: string, state: AlgorithmState, ttlMs: number, now: number): void;
  blockedForMs(key: string, now: number): number;
  startBlock(key: string, ms: number, now: number): void;
}

export function checkRules(
  store: StateStore,
  checks: readonly LimitCheck[],
  now: number,
  dryRun = false,
): RuleOutcome[] {
  const steps: { check: LimitCheck; keys: RuleKeys; step: RuleStep }[] = [];
  for (const check of checks) {
    const keys = ruleKeys(check);
    const blockMs = check.rule.blockMs ?? 0;
    const step = evaluateRule(
      algorithmOf(check.rule.algorithm),
      store.getState(keys.state, now),
      now,
      quotaFor(check.rule, check.key),
      check.cost ?? 1,
      blockMs > 0 ? store.blockedForMs(keys.block, now) : 0,
      blockMs,
    );
    steps.push({ check, keys, step });
  }
  const allAllowed = steps.every((s) => s.step.allowed);
  if (!dryRun) {
    for (const { keys, step } of steps) {
      if (allAllowed && step.next) store.setState(keys.state, step.next, step.ttlMs ?? 1, now);
      if (step.startBlockMs) store.startBlock(keys.block, step.startBlockMs, now);
    }
  }
  return steps.map(({ check, step }) => toOutcome(check, step));
}

export function toOutcome(
  check: LimitCheck,
  step: Pick<RuleStep, "allowed" | "remaining" | "resetMs" | "retryAfterMs" | "blocked">,
): RuleOutcome {
  const quota = quotaFor(check.rule, check.key);
  return {
    policyId: check.policyId,
    rule: check.rule.name,
    status: step.allowed ? "allowed" : "refused",
    limit: quota.limit,
    windowMs: quota.periodMs,
    remaining: step.remaining,
    resetMs: step.resetMs,
    retryAfterMs: step.retryAfterMs,
    blocked: step.blocked,
  };
}
