// The in-memory limiter: two-phase across rules, overrides, blockDuration, the missing-key
// bucket, admin inspect/reset, and the LRU bound.
import { describe, expect, it } from "vitest";
import { MemoryLimiter } from "./memory-limiter.ts";
import type { LimitCheck, RateLimitRule } from "./types.ts";

function rule(over: Partial<RateLimitRule> = {}): RateLimitRule {
  return {
    name: "r",
    key: { type: "Consumer" },
    algorithm: "FixedWindow",
    requests: 2,
    periodMs: 1000,
    overrides: [],
    ...over,
  };
}

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** `null` stands for a request without the key's source (undefined would take the default). */
const check = (r: RateLimitRule, key: string | null = "alice", policyId = "ns/p"): LimitCheck => ({
  policyId,
  rule: r,
  key: key ?? undefined,
});

async function pattern(limiter: MemoryLimiter, checks: LimitCheck[], n: number) {
  let s = "";
  for (let i = 0; i < n; i++) s += (await limiter.check(checks)).allowed ? "+" : "-";
  return s;
}

describe("MemoryLimiter", () => {
  it("consumes nothing from passing rules when another rule refuses", async () => {
    const c = clock();
    const limiter = new MemoryLimiter({ now: c.now });
    const loose = rule({ name: "loose", requests: 5 });
    const tight = rule({ name: "tight", requests: 2 });
    expect(await pattern(limiter, [check(loose), check(tight)], 4)).toBe("++--");
    const state = await limiter.inspect(check(loose));
    // What the next request would get: allowed, with 2 left after it.
    expect(state.outcome).toMatchObject({ status: "allowed", remaining: 2 });
    expect(state.state).toEqual({ window: 0, count: 2 });
  });

  it("reports the refusing rule and the tightest passing rule", async () => {
    const limiter = new MemoryLimiter({ now: clock().now });
    const a = rule({ name: "a", requests: 10 });
    const b = rule({ name: "b", requests: 3 });
    const first = await limiter.check([check(a), check(b)]);
    expect(first.mostRestrictive?.rule).toBe("b");
    await limiter.check([check(a), check(b)]);
    await limiter.check([check(a), check(b)]);
    const refused = await limiter.check([check(a), check(b)]);
    expect(refused).toMatchObject({ allowed: false, storeFailed: false, retryAfterSeconds: 1 });
    expect(refused.mostRestrictive).toMatchObject({ rule: "b", status: "refused", remaining: 0 });
  });

  it("keys are independent; requests without a key share one missing bucket", async () => {
    const limiter = new MemoryLimiter({ now: clock().now });
    const r = rule({ requests: 1 });
    expect(await pattern(limiter, [check(r, "alice")], 2)).toBe("+-");
    expect(await pattern(limiter, [check(r, "bob")], 2)).toBe("+-");
    expect(await pattern(limiter, [check(r, null)], 2)).toBe("+-");
    // The literal text of the missing marker is an ordinary key, not the missing bucket.
    expect(await pattern(limiter, [check(r, "-missing")], 1)).toBe("+");
  });

  it("applies overrides by key value, keeping the rule's burst unless given", async () => {
    const limiter = new MemoryLimiter({ now: clock().now });
    const r = rule({
      algorithm: "TokenBucket",
      requests: 1,
      burst: 1,
      overrides: [
        { match: "tenant-a", requests: 4 },
        { match: "tenant-b", requests: 1, burst: 0 },
        { match: "tenant-off", requests: 0 },
      ],
    });
    expect(await pattern(limiter, [check(r, "other")], 3)).toBe("++-");
    expect(await pattern(limiter, [check(r, "tenant-a")], 6)).toBe("+++++-");
    expect(await pattern(limiter, [check(r, "tenant-b")], 2)).toBe("+-");
    expect(await pattern(limiter, [check(r, "tenant-off")], 1)).toBe("-");
    const d = await limiter.check([check(r, "tenant-a")]);
    expect(d.rules[0]).toMatchObject({ limit: 4 });
  });

  it("blockDuration refuses the key until the block ends, even after the window resets", async () => {
    const c = clock();
    const limiter = new MemoryLimiter({ now: c.now });
    const r = rule({ requests: 1, blockMs: 5000 });
    expect(await pattern(limiter, [check(r)], 2)).toBe("+-");
    c.t = 1500; // a new window, but blocked
    const blocked = await limiter.check([check(r)]);
    expect(blocked).toMatchObject({ allowed: false, retryAfterSeconds: 4 });
    expect(blocked.rules[0]).toMatchObject({ blocked: true, retryAfterMs: 3500 });
    // Requests during the block do not extend it.
    c.t = 5000;
    expect((await limiter.check([check(r)])).allowed).toBe(true);
  });

  it("inspect does not consume; reset forgets counters and block", async () => {
    const c = clock();
    const limiter = new MemoryLimiter({ now: c.now });
    const r = rule({ requests: 1, blockMs: 60_000 });
    await limiter.check([check(r)]);
    await limiter.check([check(r)]);
    const seen = await limiter.inspect(check(r));
    expect(seen.blockedForMs).toBe(60_000);
    expect(seen.outcome).toMatchObject({ status: "refused", blocked: true });
    await limiter.inspect(check(r));
    await limiter.reset(check(r));
    expect(await limiter.inspect(check(r))).toMatchObject({ state: {}, blockedForMs: 0 });
    expect(await pattern(limiter, [check(r)], 2)).toBe("+-");
  });

  it.each(["FixedWindow", "SlidingWindow", "TokenBucket", "LeakyBucket"] as const)(
    "%s: inspect reports what the next request gets, refused on an exhausted key, and consumes nothing",
    async (algorithm) => {
      const c = clock(10_250);
      const limiter = new MemoryLimiter({ now: c.now });
      const r = rule({ algorithm, requests: 2 });
      expect(await limiter.inspect(check(r))).toMatchObject({ outcome: { status: "allowed" } });
      let last = await limiter.check([check(r)]);
      while (last.allowed) last = await limiter.check([check(r)]);
      const seen = await limiter.inspect(check(r));
      // It said "allowed" here while the next request got 429.
      expect(seen.outcome).toEqual(last.rules[0]);
      expect(seen.outcome.status).toBe("refused");
      c.t += seen.outcome.retryAfterMs;
      expect((await limiter.inspect(check(r))).outcome.status).toBe("allowed");
      expect((await limiter.check([check(r)])).allowed).toBe(true);
    },
  );

  it("stays within maxKeys, forgetting the least recently used", async () => {
    const limiter = new MemoryLimiter({ now: clock().now, maxKeys: 100 });
    const r = rule({ requests: 1 });
    await limiter.check([check(r, "hot")]);
    for (let i = 0; i < 1000; i++) {
      await limiter.check([check(r, `k${i}`)]);
      if (i % 10 === 0) await limiter.check([check(r, "hot")]); // refused, but touched
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
    expect((await limiter.check([check(r, "hot")])).allowed).toBe(false);
    expect((await limiter.check([check(r, "k0")])).allowed).toBe(true); // evicted, so fresh
  });

  it("expired state is dropped when touched", async () => {
    const c = clock();
    const limiter = new MemoryLimiter({ now: c.now });
    const r = rule({ requests: 1 });
    await limiter.check([check(r)]);
    c.t = 10_000;
    expect((await limiter.check([check(r)])).allowed).toBe(true);
  });

  it("an empty check list is allowed", async () => {
    expect(await new MemoryLimiter().check([])).toMatchObject({ allowed: true, mostRestrictive: undefined });
  });
});
