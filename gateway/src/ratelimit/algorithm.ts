// The four algorithms by name, and how one rule is evaluated with them. The contract each
// algorithm meets is algorithm-step.ts (in Lua: check.lua). Numbers stay unrounded until
// `finalize`, which both implementations apply identically, so the in-memory and Redis
// limiters agree to the millisecond for the same clock.

import type { AlgorithmState, AlgorithmStep, Evaluation } from "./algorithm-step.ts";
import { fixedWindow } from "./fixed-window.ts";
import { leakyBucket } from "./leaky-bucket.ts";
import type { Quota } from "./quota.ts";
import { slidingWindow } from "./sliding-window.ts";
import { tokenBucket } from "./token-bucket.ts";
import type { Algorithm } from "./types.ts";

export type { AlgorithmState, AlgorithmStep, Evaluation } from "./algorithm-step.ts";

export const ALGORITHMS: Record<Algorithm, AlgorithmStep> = {
  FixedWindow: fixedWindow,
  SlidingWindow: slidingWindow,
  TokenBucket: tokenBucket,
  LeakyBucket: leakyBucket,
};

/**
 * Short codes used in Redis key names and script arguments. The algorithm is part of the
 * state key, so changing a rule's algorithm starts from fresh state instead of misreading
 * another algorithm's fields.
 */
export const ALGORITHM_CODE: Record<Algorithm, string> = {
  FixedWindow: "fw",
  SlidingWindow: "sw",
  TokenBucket: "tb",
  LeakyBucket: "lb",
};

export function isAlgorithm(name: string): name is Algorithm {
  return Object.hasOwn(ALGORITHMS, name);
}

export interface RuleStep {
  allowed: boolean;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
  blocked: boolean;
  next?: AlgorithmState;
  ttlMs?: number;
  /** Start a blockDuration penalty of this many ms (set only on a fresh refusal). */
  startBlockMs?: number;
}

/**
 * One rule for one key: an existing block refuses first, a zero quota refuses, else the
 * algorithm decides; a fresh refusal starts the block. Mirrors the loop body of check.lua.
 */
export function evaluateRule(
  algorithm: Algorithm,
  state: AlgorithmState | undefined,
  now: number,
  quota: Quota,
  cost: number,
  blockedForMs: number,
  blockMs: number,
): RuleStep {
  if (blockedForMs > 0) {
    return finalize(
      { allowed: false, remaining: 0, resetMs: blockedForMs, retryAfterMs: blockedForMs },
      true,
    );
  }
  const e: Evaluation =
    quota.limit === 0
      ? { allowed: false, remaining: 0, resetMs: quota.periodMs, retryAfterMs: quota.periodMs }
      : ALGORITHMS[algorithm](state, now, quota, cost);
  // A cost above capacity can never pass; report one period rather than Infinity or NaN.
  if (!Number.isFinite(e.retryAfterMs)) e.retryAfterMs = quota.periodMs;
  if (!Number.isFinite(e.resetMs)) e.resetMs = quota.periodMs;
  if (!e.allowed && blockMs > 0) {
    e.retryAfterMs = Math.max(e.retryAfterMs, blockMs);
    e.resetMs = Math.max(e.resetMs, blockMs);
    return { ...finalize(e, true), startBlockMs: blockMs };
  }
  return finalize(e, false);
}

/**
 * Integer results: whole requests remaining (floor), whole milliseconds to wait (ceil). A
 * refusal's reset is its retry, to the millisecond, so `t` never says quota comes back
 * before Retry-After does (draft-ietf-httpapi-ratelimit-headers-10 §6).
 */
function finalize(e: Evaluation, blocked: boolean): RuleStep {
  const retryAfterMs = e.allowed ? 0 : Math.max(1, Math.ceil(e.retryAfterMs));
  const step: RuleStep = {
    allowed: e.allowed,
    remaining: Math.floor(Math.max(0, e.remaining)),
    resetMs: e.allowed ? Math.ceil(Math.max(0, e.resetMs)) : retryAfterMs,
    retryAfterMs,
    blocked,
  };
  if (e.allowed && e.next) {
    step.next = e.next;
    step.ttlMs = Math.max(1, Math.ceil(e.ttlMs ?? 1));
  }
  return step;
}
