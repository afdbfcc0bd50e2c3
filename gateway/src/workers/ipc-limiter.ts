// A worker's rate limiter without Redis: the pod's one in-memory limiter lives in the
// primary (limiter-server.ts), and every worker asks it. N limiters of their own would let a
// client whose connections the kernel spread over N workers have N times its limit.
// As the Redis limiter does, the checks of one turn of the event loop travel together: one
// message per turn, not one per request. An answer that does not come within ANSWER_MS
// (the primary is stuck, or gone) is a store failure: the policy's failureMode decides,
// as when Redis does not answer.
import { RateLimitTimeoutError } from "../../../core/api/errors.ts";
import { decide } from "../ratelimit/decision.ts";
import { failedOutcome } from "../ratelimit/quota.ts";
import type { KeyInspection, LimitCheck, LimitDecision, Limiter, StoreFailure } from "../ratelimit/types.ts";
import type { FromWorker } from "./protocol.ts";

/** Longest wait for the primary; a config-directory compile (≤ 1 s for 10k routes) fits. */
const ANSWER_MS = 2000;

interface Pending {
  requests: LimitCheck[][];
  resolvers: ((d: LimitDecision) => void)[];
}

export class IpcLimiter implements Limiter {
  readonly #send: (m: FromWorker) => void;
  readonly #onError: (err: Error) => void;
  readonly #waiting = new Map<number, { pending: Pending; timer: NodeJS.Timeout }>();
  #turn: Pending | undefined;
  #nextId = 1;

  constructor(send: (m: FromWorker) => void, onError: (err: Error) => void) {
    this.#send = send;
    this.#onError = onError;
  }

  check(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    if (checks.length === 0) return Promise.resolve(decide([]));
    if (!this.#turn) {
      this.#turn = { requests: [], resolvers: [] };
      setImmediate(this.#flush);
    }
    const { promise, resolve } = Promise.withResolvers<LimitDecision>();
    this.#turn.requests.push(checks as LimitCheck[]);
    this.#turn.resolvers.push(resolve);
    return promise;
  }

  readonly #flush = () => {
    const pending = this.#turn as Pending;
    this.#turn = undefined;
    const id = this.#nextId++;
    const timer = setTimeout(
      () => this.#fail(id, "timeout", new RateLimitTimeoutError(ANSWER_MS)),
      ANSWER_MS,
    );
    this.#waiting.set(id, { pending, timer });
    try {
      this.#send({ t: "limits", id, requests: pending.requests });
    } catch (err) {
      this.#fail(id, "unavailable", err as Error);
    }
  };

  /** The primary's answer to request `id`: one decision per request, in order. */
  answered(id: number, decisions: LimitDecision[]): void {
    const entry = this.#waiting.get(id);
    if (!entry) return; // timed out already
    this.#waiting.delete(id);
    clearTimeout(entry.timer);
    entry.pending.resolvers.forEach((resolve, i) => {
      resolve(decisions[i] ?? failed(entry.pending.requests[i] ?? [], "unavailable"));
    });
  }

  #fail(id: number, failure: StoreFailure, err: Error): void {
    const entry = this.#waiting.get(id);
    if (!entry) return;
    this.#waiting.delete(id);
    clearTimeout(entry.timer);
    this.#onError(err);
    entry.pending.resolvers.forEach((resolve, i) => {
      resolve(failed(entry.pending.requests[i] ?? [], failure));
    });
  }

  // The admin endpoints run in the primary, on the limiter itself.
  async inspect(_check: LimitCheck): Promise<KeyInspection> {
    throw new Error("rate-limit keys are read on the primary's admin listener");
  }

  async reset(_check: LimitCheck): Promise<void> {
    throw new Error("rate-limit keys are reset on the primary's admin listener");
  }

  async connected(): Promise<boolean> {
    return true;
  }

  /** Requests still waiting get a store failure: their policies' failureMode decides. */
  async close(): Promise<void> {
    for (const id of [...this.#waiting.keys()]) this.#fail(id, "unavailable", new Error("limiter closed"));
  }
}

/** The decision for a request whose checks could not be asked. */
function failed(checks: readonly LimitCheck[], failure: StoreFailure): LimitDecision {
  return decide(checks.map((check) => failedOutcome(check, failure)));
}
