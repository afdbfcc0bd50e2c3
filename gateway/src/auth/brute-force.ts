// Brute-force protection: refused credentials are counted per client address (and per
// consumer, when the credential was genuine but refused) in the rate limiter — in Redis,
// so every replica counts towards the same limit — and past the limit the client is
// refused with 429 for the block duration, before any credential is even looked at.
// Successful requests cost nothing: the block is remembered here once a failure's count
// comes back refused; other replicas learn it at the client's next failure there.
import { clientIpKey } from "../ratelimit/key-value.ts";
import type { Limiter, RateLimitRule } from "../ratelimit/types.ts";
import type { AuthFailure } from "./auth-policy.ts";

export interface BruteForceSettings {
  /** Refused credentials per window before a block; 0: off. */
  limit: number;
  windowMs: number;
  blockMs: number;
}

/** The limiter's policy id for the failure counts (not a resource anyone can name). */
export const BRUTE_FORCE_POLICY = "sluice.dev/auth-failures";
const MAX_REMEMBERED = 50_000;

export class BruteForceGuard {
  readonly #limiter: Limiter;
  readonly #rule: RateLimitRule;
  readonly #now: () => number;
  /** "client:<ip /64>" or "consumer:<id>" → blocked until (epoch ms); oldest first. */
  readonly #blocked = new Map<string, number>();

  constructor(limiter: Limiter, s: BruteForceSettings, now: () => number = Date.now) {
    this.#limiter = limiter;
    this.#now = now;
    this.#rule = {
      name: "per-client",
      key: { type: "Global" },
      algorithm: "FixedWindow",
      requests: s.limit,
      periodMs: s.windowMs,
      blockMs: s.blockMs,
      overrides: [],
    };
  }

  /** Seconds the client (or consumer) must still wait, or 0 when not blocked. */
  retryAfter(kind: "client" | "consumer", value: string | undefined): number {
    if (value === undefined) return 0;
    const key = `${kind}:${kind === "client" ? (clientIpKey(value) ?? value) : value}`;
    const until = this.#blocked.get(key);
    if (until === undefined) return 0;
    const left = until - this.#now();
    if (left <= 0) {
      this.#blocked.delete(key);
      return 0;
    }
    return Math.max(1, Math.ceil(left / 1000));
  }

  /** Counts a refused credential; never rejects (a limiter failure just counts nothing). */
  async failed(f: AuthFailure): Promise<void> {
    const keys = [`client:${clientIpKey(f.client) ?? f.client}`];
    if (f.consumer !== undefined) keys.push(`consumer:${f.consumer}`);
    await Promise.all(
      keys.map(async (key) => {
        const decision = await this.#limiter.check([{ policyId: BRUTE_FORCE_POLICY, rule: this.#rule, key }]);
        if (decision.allowed || decision.storeFailed) return;
        this.#blocked.delete(key);
        this.#blocked.set(key, this.#now() + decision.retryAfterSeconds * 1000);
        while (this.#blocked.size > MAX_REMEMBERED)
          this.#blocked.delete(this.#blocked.keys().next().value as string);
      }),
    );
  }
}
