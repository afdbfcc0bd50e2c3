// The limiter's public vocabulary. The data plane builds LimitChecks from the policies that
// apply to a route (see checks-for-request.ts), asks a Limiter, and turns the LimitDecision
// into a response (see outcome.ts).
import type { SnapshotRateLimitPolicy } from "../../../core/api/snapshot/schema.ts";

export type RateLimitRule = SnapshotRateLimitPolicy["rules"][number];
export type Algorithm = "TokenBucket" | "SlidingWindow" | "FixedWindow" | "LeakyBucket";

/** One rule of one policy, for one key value, for one request. */
export interface LimitCheck {
  policyId: string;
  rule: RateLimitRule;
  /** The key value (a consumer id, an IP /64, a header value); undefined = the "missing" bucket. */
  key: string | undefined;
  /** Units the request costs; 1 unless a caller weighs requests. */
  cost?: number;
}

/** Why a rule has no answer: the store did not answer in time, or refused the command. */
export type StoreFailure = "timeout" | "unavailable";

export interface RuleOutcome {
  policyId: string;
  rule: string;
  status: "allowed" | "refused" | "failed";
  /** The quota reported to clients (requests per window, after overrides). */
  limit: number;
  windowMs: number;
  /** Whole requests that could still pass now. */
  remaining: number;
  /**
   * The draft's reset parameter `t`, in ms: until more quota than `remaining` is available
   * (window end, next token, next conforming time…); on a refusal, equal to `retryAfterMs`.
   */
  resetMs: number;
  /** Milliseconds until a refused request could pass (0 when allowed). */
  retryAfterMs: number;
  /** Refused because of (or the refusal started) a blockDuration penalty. */
  blocked: boolean;
  failure?: StoreFailure;
}

export interface LimitDecision {
  /** False when any rule refused. Rules that failed do not count here: see storeFailed. */
  allowed: boolean;
  /** Some rules could not be checked; the caller applies their policies' failureMode. */
  storeFailed: boolean;
  /** One outcome per check, in the order given. */
  rules: RuleOutcome[];
  /** The refusing rule with the longest wait, else the answered rule with the lowest remaining fraction. */
  mostRestrictive: RuleOutcome | undefined;
  /** Whole seconds (>= 1) a refused client should wait; 0 when allowed. */
  retryAfterSeconds: number;
}

/** A key's stored state and what a request would get now, without consuming anything. */
export interface KeyInspection {
  /**
   * What one request sent now would get, as a dry run that writes nothing: its status, and
   * the `remaining` (after it), `resetMs` and `retryAfterMs` its headers would carry.
   */
  outcome: RuleOutcome;
  /** The algorithm's raw state (field → number); empty when the key is fresh. */
  state: Record<string, number>;
  /** Milliseconds left of a blockDuration penalty, 0 when not blocked. */
  blockedForMs: number;
}

export interface Limiter {
  /** All checks of one request; every rule must pass. Never rejects: store trouble is in the decision. */
  check(checks: readonly LimitCheck[]): Promise<LimitDecision>;
  /** Admin: the current state of one (policy, rule, key). Rejects when the store fails. */
  inspect(check: LimitCheck): Promise<KeyInspection>;
  /** Admin: forget one (policy, rule, key): counters and block. Rejects when the store fails. */
  reset(check: LimitCheck): Promise<void>;
  /** Resolves true once the store can answer (at once in memory), false after `timeoutMs`. */
  connected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
