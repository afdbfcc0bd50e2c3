// Brute-force protection: refused credentials are counted in the rate limiter — in Redis,
// so every replica counts towards the same limit — against two things only:
//   - the client address (an IPv6 client by its /64): past the limit, everything from that
//     address is refused with 429 for the block duration, before any credential is looked
//     at, so a guesser cannot go on by presenting a new guess each time;
//   - the presented credential's digest, per AuthzPolicy: past the limit, that one
//     credential is refused from every address (a leaked expired key or token replayed by
//     many hosts), and nothing else is.
// Never against a consumer, subject or tenant: a consumer's expired key must not lock out
// the key that replaced it, and a stranger who knows a consumer's name must not be able
// to lock that consumer out. Failures that depend on where the request came from
// (addressNotAllowed) count against the address only: the same key is good elsewhere.
// Successful requests cost nothing: a block is remembered here once a failure's count
// comes back refused; other replicas learn it at the next failure there.
import { clientIpKey } from "../ratelimit/key-value.ts";
import type { Limiter, RateLimitRule } from "../ratelimit/types.ts";
import type { AuthFailure } from "./auth-policy.ts";

export interface BruteForceSettings {
  /** Refused credentials per window before a block; 0: off. */
  limit: number;
  windowMs: number;
  blockMs: number;
  /** A block this guard found, for the other workers of a pod to learn (learn()). */
  onBlocked?: (limiterKey: string, untilMs: number) => void;
}

/** The limiter's policy id for the failure counts (not a resource anyone can name). */
export const BRUTE_FORCE_POLICY = "sluice.dev/auth-failures";
const MAX_REMEMBERED = 50_000;

export class BruteForceGuard {
  readonly #limiter: Limiter;
  readonly #rule: RateLimitRule;
  readonly #now: () => number;
  readonly #onBlocked: BruteForceSettings["onBlocked"];
  /** "<ip or /64>" → blocked until (epoch ms); oldest first. */
  readonly #clients = new Map<string, number>();
  /** "<policy> <credential digest>" → blocked until (epoch ms); oldest first. */
  readonly #credentials = new Map<string, number>();

  constructor(limiter: Limiter, s: BruteForceSettings, now: () => number = Date.now) {
    this.#limiter = limiter;
    this.#now = now;
    this.#onBlocked = s.onBlocked;
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

  /**
   * Seconds a request must still wait, or 0: its client address is blocked, or a credential
   * it presents is blocked for this policy. `digests` is called only while some credential
   * is blocked, so requests pay no hashing when nothing is.
   */
  retryAfter(client: string, policy: string, digests: () => readonly string[]): number {
    let wait = this.#left(this.#clients, clientKey(client));
    if (this.#credentials.size > 0)
      for (const d of digests()) wait = Math.max(wait, this.#left(this.#credentials, `${policy} ${d}`));
    return wait;
  }

  /** Counts a refused credential; never rejects (a limiter failure just counts nothing). */
  async failed(f: AuthFailure): Promise<void> {
    const counts: [Map<string, number>, string, string][] = [
      [this.#clients, clientKey(f.client), `client:${clientKey(f.client)}`],
    ];
    if (f.credential !== undefined) {
      const key = `${f.policy} ${f.credential}`;
      counts.push([this.#credentials, key, `credential:${key}`]);
    }
    await Promise.all(
      counts.map(async ([blocked, key, limiterKey]) => {
        const decision = await this.#limiter.check([
          { policyId: BRUTE_FORCE_POLICY, rule: this.#rule, key: limiterKey },
        ]);
        if (decision.allowed || decision.storeFailed) return;
        const until = this.#now() + decision.retryAfterSeconds * 1000;
        remember(blocked, key, until);
        this.#onBlocked?.(limiterKey, until);
      }),
    );
  }

  /**
   * A block found by another process sharing this one's counts (a worker of the same pod):
   * without it, each worker would let a blocked guesser try once more before its own count
   * came back refused.
   */
  learn(limiterKey: string, untilMs: number): void {
    const colon = limiterKey.indexOf(":");
    const kind = limiterKey.slice(0, colon);
    const blocked = kind === "client" ? this.#clients : kind === "credential" ? this.#credentials : undefined;
    if (blocked && untilMs > this.#now()) remember(blocked, limiterKey.slice(colon + 1), untilMs);
  }

  #left(blocked: Map<string, number>, key: string): number {
    const until = blocked.get(key);
    if (until === undefined) return 0;
    const left = until - this.#now();
    if (left <= 0) {
      blocked.delete(key);
      return 0;
    }
    return Math.max(1, Math.ceil(left / 1000));
  }
}

function remember(blocked: Map<string, number>, key: string, untilMs: number): void {
  blocked.delete(key);
  blocked.set(key, untilMs);
  while (blocked.size > MAX_REMEMBERED) blocked.delete(blocked.keys().next().value as string);
}

function clientKey(client: string): string {
  return clientIpKey(client) ?? client;
}
