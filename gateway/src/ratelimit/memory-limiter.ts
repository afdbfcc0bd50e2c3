// The limiter for standalone mode without Redis: same algorithms, same two-phase check, same
// key names, state in one process. JavaScript runs one check at a time, so the two-phase
// check is atomic here without any locking.
import { checkRules } from "./check-rules.ts";
import { decide } from "./decision.ts";
import { LruStateStore } from "./lru-store.ts";
import { allStateKeys, ruleKeys } from "./store-keys.ts";
import type { KeyInspection, LimitCheck, LimitDecision, Limiter } from "./types.ts";

export interface MemoryLimiterOptions {
  /** Most (policy, rule, key) entries kept; least recently used are forgotten first. */
  maxKeys?: number;
  /** Milliseconds since the epoch; monotonic by default so a wall-clock step cannot refill buckets. */
  now?: () => number;
}

const monotonicNow = () => performance.timeOrigin + performance.now();

export class MemoryLimiter implements Limiter {
  readonly #store: LruStateStore;
  readonly #now: () => number;

  constructor({ maxKeys = 100_000, now = monotonicNow }: MemoryLimiterOptions = {}) {
    this.#store = new LruStateStore(maxKeys);
    this.#now = now;
  }

  /** Entries held (state and block markers), for metrics and tests. */
  get size(): number {
    return this.#store.size;
  }

  async check(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    return decide(checkRules(this.#store, checks, this.#now()));
  }

  async inspect(check: LimitCheck): Promise<KeyInspection> {
    const now = this.#now();
    const keys = ruleKeys(check);
    // A request as the data plane would send it, as a dry run: a zero-cost probe would pass
    // on an exhausted key and report "allowed" while the next request gets 429.
    const [outcome] = checkRules(this.#store, [check], now, true);
    return {
      outcome: outcome as KeyInspection["outcome"],
      state: this.#store.getState(keys.state, now) ?? {},
      blockedForMs: this.#store.blockedForMs(keys.block, now),
    };
  }

  async reset(check: LimitCheck): Promise<void> {
    for (const key of allStateKeys(check)) this.#store.delete(key);
    this.#store.delete(ruleKeys(check).block);
  }

  async connected(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
