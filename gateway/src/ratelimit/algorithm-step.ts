// The contract every algorithm meets, in TypeScript and in Lua (check.lua): a pure step
// `(state, now, quota, cost) → evaluation`. The caller writes `next` back only when every
// rule of the request passed (two-phase: see check-rules.ts).
import type { Quota } from "./quota.ts";

export type AlgorithmState = Record<string, number>;

export interface Evaluation {
  allowed: boolean;
  remaining: number;
  /**
   * The draft's reset parameter `t`: ms until more quota is available than `remaining`
   * (for a refusal, until this request could pass: the same as `retryAfterMs`).
   */
  resetMs: number;
  retryAfterMs: number;
  /** State to store when the request is accepted, and for how long it matters. */
  next?: AlgorithmState;
  ttlMs?: number;
}

export type AlgorithmStep = (
  state: AlgorithmState | undefined,
  now: number,
  quota: Quota,
  cost: number,
) => Evaluation;
