// What a run of refused credentials blocks, and what it must never block: the address that
// failed and the credential that failed, never another credential of the same consumer.
import { describe, expect, it } from "vitest";
import { MemoryLimiter } from "../ratelimit/memory-limiter.ts";
import type { AuthFailure } from "./auth-policy.ts";
import { BruteForceGuard } from "./brute-force.ts";

const SETTINGS = { limit: 3, windowMs: 60_000, blockMs: 300_000 };

function guard() {
  const clock = { t: 1_000_000 };
  const g = new BruteForceGuard(new MemoryLimiter({ now: () => clock.t }), SETTINGS, () => clock.t);
  return { g, clock };
}

const failure = (over: Partial<AuthFailure> = {}): AuthFailure => ({
  policy: "shop/keys",
  client: "127.0.0.2",
  method: "apiKey",
  reason: "expired",
  credential: "digest-of-old-key",
  ...over,
});

/** Four refusals (one past the limit) of the same failure. */
async function failFourTimes(g: BruteForceGuard, f: AuthFailure) {
  for (let i = 0; i < 4; i++) await g.failed(f);
}

describe("BruteForceGuard", () => {
  it.each([
    // [what is asked, client, policy, presented digests, blocked?]
    ["the failing address, any credential", "127.0.0.2", "shop/keys", ["digest-of-new-key"], true],
    ["the failing address, no credential", "127.0.0.2", "shop/keys", [], true],
    ["the refused credential from another address", "127.0.0.3", "shop/keys", ["digest-of-old-key"], true],
    ["the consumer's other key from another address", "127.0.0.3", "shop/keys", ["digest-of-new-key"], false],
    ["another address with no credential", "127.0.0.3", "shop/keys", [], false],
    ["the refused credential under another policy", "127.0.0.3", "shop/other", ["digest-of-old-key"], false],
  ] as const)("after a run of refusals: %s → blocked %s", async (_, client, policy, digests, blocked) => {
    const { g } = guard();
    await failFourTimes(g, failure());
    const wait = g.retryAfter(client, policy, () => digests);
    if (blocked) expect(wait).toBeGreaterThan(290);
    else expect(wait).toBe(0);
  });

  it("a failure refused only for its address counts against the address, not the key", async () => {
    const { g } = guard();
    const { credential: _, ...noCredential } = failure({ reason: "addressNotAllowed" });
    await failFourTimes(g, noCredential);
    expect(g.retryAfter("127.0.0.2", "shop/keys", () => [])).toBeGreaterThan(0);
    expect(g.retryAfter("127.0.0.3", "shop/keys", () => ["digest-of-old-key"])).toBe(0);
  });

  it("an IPv6 client is counted by its /64", async () => {
    const { g } = guard();
    for (let i = 0; i < 4; i++)
      await g.failed(failure({ client: `2001:db8:1:2::${i + 1}`, credential: `d${i}` }));
    expect(g.retryAfter("2001:db8:1:2::99", "shop/keys", () => [])).toBeGreaterThan(0);
    expect(g.retryAfter("2001:db8:1:3::1", "shop/keys", () => [])).toBe(0);
  });

  it("does not hash presented credentials while no credential is blocked", async () => {
    const { g } = guard();
    let asked = 0;
    const digests = () => {
      asked++;
      return ["d"];
    };
    await g.failed(failure());
    expect(g.retryAfter("127.0.0.9", "shop/keys", digests)).toBe(0);
    expect(asked).toBe(0);
  });

  it("a block ends after its duration", async () => {
    const { g, clock } = guard();
    await failFourTimes(g, failure());
    clock.t += SETTINGS.blockMs;
    expect(g.retryAfter("127.0.0.2", "shop/keys", () => ["digest-of-old-key"])).toBe(0);
  });
});
