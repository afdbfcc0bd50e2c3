// The Redis limiter against real redis-server processes (see redis-harness.ts): the Lua
// script agrees with the TypeScript model, NOSCRIPT is recovered, limits are exact across
// concurrent clients, Cluster works across slots, and a paused, dead or restarted Redis
// never stalls a check beyond its timeout and needs no restart of the limiter.
import { once } from "node:events";
import fc from "fast-check";
import { type Cluster, Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { cleanupAfterAll, sleep } from "../../test-support/index.ts";
import { createLimiter, createRedisClient, redisOptions } from "../src/ratelimit/create-limiter.ts";
import { MemoryLimiter } from "../src/ratelimit/memory-limiter.ts";
import { RedisLimiter } from "../src/ratelimit/redis-limiter.ts";
import { ruleKeys } from "../src/ratelimit/store-keys.ts";
import type { Algorithm, LimitCheck, LimitDecision, RateLimitRule } from "../src/ratelimit/types.ts";
import {
  type RedisCluster,
  type RedisServer,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from "./redis-harness.ts";

const ALGORITHMS: Algorithm[] = ["FixedWindow", "SlidingWindow", "TokenBucket", "LeakyBucket"];
/** Generous on a shared 2-core machine; the point is "bounded", not "fast". */
const SLACK_MS = 250;

let unique = 0;
const policyId = () => `test/p${process.pid}-${++unique}`;

function rule(over: Partial<RateLimitRule> = {}): RateLimitRule {
  return {
    name: "r",
    key: { type: "Consumer" },
    algorithm: "FixedWindow",
    requests: 5,
    periodMs: 1000,
    overrides: [],
    ...over,
  };
}

const { defer } = cleanupAfterAll();
async function connect(server: RedisServer, timeoutMs = 50): Promise<Redis> {
  const client = new Redis(server.port, server.host, redisOptions(timeoutMs));
  client.on("error", () => {});
  defer(() => client.disconnect());
  await once(client, "ready");
  return client;
}

async function accepted(limiter: RedisLimiter, checks: LimitCheck[], n: number): Promise<LimitDecision[]> {
  return Promise.all(Array.from({ length: n }, () => limiter.check(checks)));
}

/** A fixed window of `periodMs` that will not end in the next `marginMs`. */
async function awayFromWindowEdge(periodMs: number, marginMs: number) {
  const intoWindow = Date.now() % periodMs;
  if (periodMs - intoWindow < marginMs) await sleep(periodMs - intoWindow + 10);
}

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
  defer(() => server.stop());
});

describe("RedisLimiter on standalone Redis", () => {
  it("the Lua script equals the TypeScript model, request by request, for any sequence", async () => {
    const client = await connect(server, 1000);
    const ruleArb = fc.record({
      algorithm: fc.constantFrom(...ALGORITHMS),
      requests: fc.integer({ min: 1, max: 8 }),
      periodMs: fc.integer({ min: 50, max: 3000 }),
      burst: fc.integer({ min: 0, max: 3 }),
      blockMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2000 })),
      vip: fc.integer({ min: 0, max: 20 }),
    });
    const stepArb = fc.record({
      dt: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1500, noNaN: true })),
      key: fc.constantFrom("a", "b", "vip", null),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(ruleArb, { minLength: 1, maxLength: 3 }),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        async (specs, start, steps) => {
          const clock = { t: 1_700_000_000_000 + start };
          const model = new MemoryLimiter({ now: () => clock.t });
          const redis = new RedisLimiter(client, { clock: () => clock.t, timeoutMs: 1000 });
          const id = policyId();
          const rules = specs.map((s, i) =>
            rule({
              name: `r${i}`,
              algorithm: s.algorithm,
              requests: s.requests,
              periodMs: s.periodMs,
              burst: s.burst,
              overrides: [{ match: "vip", requests: s.vip }],
              ...(s.blockMs ? { blockMs: s.blockMs } : {}),
            }),
          );
          for (const step of steps) {
            clock.t += step.dt;
            const checks = rules.map((r) => ({ policyId: id, rule: r, key: step.key ?? undefined }));
            const [expected, actual] = await Promise.all([model.check(checks), redis.check(checks)]);
            expect(actual).toEqual(expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it.each(ALGORITHMS)(
    "%s on Redis TIME: capacity passes, then refused until retry-after",
    async (algorithm) => {
      const client = await connect(server, 1000);
      const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
      const r = rule({ algorithm, requests: 4, periodMs: 1000 });
      const check = [{ policyId: policyId(), rule: r, key: "k" }];
      if (algorithm === "FixedWindow" || algorithm === "SlidingWindow") await awayFromWindowEdge(1000, 300);
      // Sent together, so they reach Redis in one pipeline: no refill between them.
      const capacity = algorithm === "LeakyBucket" ? 1 : 4;
      const burst = await accepted(limiter, check, capacity + 1);
      expect(burst.map((d) => (d.allowed ? "+" : "-")).join("")).toBe(`${"+".repeat(capacity)}-`);
      const refused = burst[capacity]?.rules[0];
      const wait = refused?.retryAfterMs ?? 0;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(algorithm === "SlidingWindow" ? 2000 : 1000);
      // The draft's t on a refusal is when quota is back: the same wait, never less.
      expect(refused?.resetMs).toBe(wait);
      // Inspection says what the next request gets (it said "allowed" on an exhausted key).
      const seen = await limiter.inspect(check[0] as LimitCheck);
      expect(seen.outcome.status).toBe("refused");
      expect(seen.outcome.retryAfterMs).toBeLessThanOrEqual(wait);
      expect(seen.outcome.retryAfterMs).toBeGreaterThan(wait - 250);
      await sleep(wait + 5);
      expect((await limiter.inspect(check[0] as LimitCheck)).outcome.status).toBe("allowed");
      expect((await limiter.check(check)).allowed).toBe(true);
    },
  );

  it("blockDuration: refused for the block, on the server's clock", async () => {
    const client = await connect(server, 1000);
    const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
    const r = rule({ algorithm: "TokenBucket", requests: 1, periodMs: 50, blockMs: 600 });
    const check = { policyId: policyId(), rule: r, key: "k" };
    expect((await limiter.check([check])).allowed).toBe(true);
    const refused = await limiter.check([check]);
    expect(refused.rules[0]).toMatchObject({ status: "refused", blocked: true, retryAfterMs: 600 });
    await sleep(150); // the bucket has refilled, the block has not ended
    expect((await limiter.check([check])).rules[0]).toMatchObject({ status: "refused", blocked: true });
    const seen = await limiter.inspect(check);
    expect(seen.blockedForMs).toBeGreaterThan(0);
    await limiter.reset(check);
    expect((await limiter.check([check])).allowed).toBe(true);
  });

  it("recovers from NOSCRIPT after SCRIPT FLUSH, and uses EVALSHA otherwise", async () => {
    const client = await connect(server, 1000);
    const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
    const check = [{ policyId: policyId(), rule: rule({ requests: 100, periodMs: 3_600_000 }), key: "k" }];
    await awayFromWindowEdge(3_600_000, 5000);
    await limiter.check(check);
    await server.cli("SCRIPT", "FLUSH");
    await server.cli("CONFIG", "RESETSTAT");
    const d = await limiter.check(check);
    expect(d).toMatchObject({ allowed: true, storeFailed: false });
    expect(d.rules[0]?.remaining).toBe(98);
    await limiter.check(check);
    const stats = await server.cli("INFO", "all");
    expect(stats).toMatch(/errorstat_NOSCRIPT:count=1\b/);
    expect(stats).toMatch(/cmdstat_evalsha:calls=2\b/); // the one that failed, then a cached call
    expect(stats).toMatch(/cmdstat_eval:calls=1\b/); // the reload
  });

  it.each(["FixedWindow", "TokenBucket", "SlidingWindow"] as const)(
    "%s is exact across replicas: 4 clients × 60 concurrent requests, limit 50",
    async (algorithm) => {
      // Long periods keep refill and window edges out of the count.
      const periodMs = algorithm === "TokenBucket" ? 86_400_000 : 3_600_000;
      if (algorithm !== "TokenBucket") await awayFromWindowEdge(periodMs, 10_000);
      const r = rule({
        algorithm,
        requests: 50,
        periodMs,
        ...(algorithm === "TokenBucket" ? { burst: 0 } : {}),
      });
      const check = [{ policyId: policyId(), rule: r, key: "shared" }];
      // Each replica has its own connection; the timeout is long because this measures
      // exactness, and a timed-out check could still have consumed.
      const replicas = await Promise.all(
        [1, 2, 3, 4].map(async () => new RedisLimiter(await connect(server, 5000), { timeoutMs: 5000 })),
      );
      const decisions = (await Promise.all(replicas.map((l) => accepted(l, check, 60)))).flat();
      expect(decisions.filter((d) => d.storeFailed)).toHaveLength(0);
      expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    },
  );

  it("concurrent requests with the same keys share one script call and get the answers of calls in order", async () => {
    const client = await connect(server, 1000);
    const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
    const id = policyId();
    const fixed = rule({ requests: 10, periodMs: 3_600_000 });
    const blocking = rule({
      name: "b",
      algorithm: "TokenBucket",
      requests: 2,
      periodMs: 3_600_000,
      burst: 0,
      blockMs: 60_000,
    });
    await awayFromWindowEdge(3_600_000, 5000);
    await server.cli("CONFIG", "RESETSTAT");
    const [shared, other, blocked] = await Promise.all([
      accepted(limiter, [{ policyId: id, rule: fixed, key: "shared" }], 25),
      accepted(limiter, [{ policyId: id, rule: fixed, key: "other" }], 3),
      accepted(limiter, [{ policyId: id, rule: blocking, key: "x" }], 5),
    ]);
    // Request i (in call order) sees the state requests 0..i-1 left: exactly what one call
    // each, in that order, would have answered.
    expect(shared.map((d) => d.rules[0]?.remaining)).toEqual([
      9,
      8,
      7,
      6,
      5,
      4,
      3,
      2,
      1,
      0,
      ...Array(15).fill(0),
    ]);
    expect(shared.map((d) => (d.allowed ? "+" : "-")).join("")).toBe(`${"+".repeat(10)}${"-".repeat(15)}`);
    expect(other.map((d) => d.rules[0]?.remaining)).toEqual([9, 8, 7]);
    expect(blocked.map((d) => (d.allowed ? "+" : d.rules[0]?.blocked ? "b" : "-")).join("")).toBe("++bbb");
    // One script call per distinct key set, not per request (a new connection's first call
    // in a pipeline is an EVAL, the rest EVALSHA).
    const stats = await server.cli("INFO", "commandstats");
    const calls = (name: string) => Number(stats.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
    expect(calls("eval") + calls("evalsha")).toBe(3);
  });

  it("checks all rules of a request in one atomic call: a refusal consumes nothing elsewhere", async () => {
    const client = await connect(server, 1000);
    const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
    const id = policyId();
    const loose = {
      policyId: id,
      rule: rule({ name: "loose", requests: 10, periodMs: 3_600_000 }),
      key: "k",
    };
    const tight = { policyId: id, rule: rule({ name: "tight", requests: 2, periodMs: 3_600_000 }), key: "k" };
    await awayFromWindowEdge(3_600_000, 5000);
    await server.cli("CONFIG", "RESETSTAT");
    for (let i = 0; i < 5; i++) await limiter.check([loose, tight]);
    // Two consumed: the next request would pass and leave 7.
    expect((await limiter.inspect(loose)).outcome).toMatchObject({ status: "allowed", remaining: 7 });
    // One script call per request (5) plus the inspect; EVAL is the first use per connection.
    const stats = await server.cli("INFO", "commandstats");
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls("evalsha") + calls("eval")).toBe(6);
  });
});

describe("createLimiter", () => {
  it("finds the master through Sentinel", async () => {
    const sentinel = await startRedisSentinel(server, "sluice");
    const limiter = createLimiter({
      sentinel: { sentinels: [`${sentinel.host}:${sentinel.port}`], name: "sluice" },
      timeoutMs: 1000,
    });
    try {
      const r = rule({ algorithm: "TokenBucket", requests: 1, periodMs: 86_400_000 });
      const check = [{ policyId: policyId(), rule: r, key: "k" }];
      let first = await limiter.check(check);
      for (let i = 0; i < 50 && first.storeFailed; i++) {
        await sleep(50); // the offline queue is off: wait for the connection, not in it
        first = await limiter.check(check);
      }
      expect(first).toMatchObject({ allowed: true, storeFailed: false });
      expect((await limiter.check(check)).allowed).toBe(false);
    } finally {
      await limiter.close();
      await sentinel.stop();
    }
  });

  it("without a store is the in-memory limiter; conflicting or bad options fail at once", () => {
    expect(createLimiter()).toBeInstanceOf(MemoryLimiter);
    expect(() => createLimiter({ url: "redis://a", cluster: { nodes: ["b:1"] } })).toThrow(
      /SLUICE_CONFIG_INVALID/,
    );
    expect(() => createLimiter({ url: "http://a" })).toThrow(/SLUICE_CONFIG_INVALID/);
    expect(() => createLimiter({ url: "redis://a", timeoutMs: 0 })).toThrow(/SLUICE_CONFIG_INVALID/);
  });
});

describe("RedisLimiter when Redis misbehaves", () => {
  /** Waves of 10 concurrent checks for `ms`: latency and decision of each. */
  async function probe(limiter: RedisLimiter, check: LimitCheck[], ms: number) {
    const out: { latency: number; decision: LimitDecision }[] = [];
    const end = Date.now() + ms;
    const one = async () => {
      const t0 = performance.now();
      const decision = await limiter.check(check);
      out.push({ latency: performance.now() - t0, decision });
    };
    while (Date.now() < end) {
      await Promise.all(Array.from({ length: 10 }, one));
      await sleep(5);
    }
    return out;
  }

  it("CLIENT PAUSE: every check returns within the timeout with storeFailed, then recovers", async () => {
    const client = await connect(server, 50);
    const limiter = new RedisLimiter(client, { timeoutMs: 50 });
    const check = [{ policyId: policyId(), rule: rule({ requests: 1_000_000 }), key: "k" }];
    expect((await limiter.check(check)).storeFailed).toBe(false);
    await server.cli("CLIENT", "PAUSE", "1500", "ALL");
    const during = await probe(limiter, check, 1000);
    expect(during.length).toBeGreaterThan(50);
    expect(Math.max(...during.map((s) => s.latency))).toBeLessThan(50 + SLACK_MS);
    expect(during.every((s) => s.decision.storeFailed && s.decision.rules[0]?.failure === "timeout")).toBe(
      true,
    );
    let recovered = false;
    for (let i = 0; i < 60 && !recovered; i++) {
      await sleep(50);
      recovered = !(await limiter.check(check)).storeFailed;
    }
    expect(recovered).toBe(true);
  });

  it("killed and restarted on the same port: fails fast meanwhile, recovers without a new limiter", async () => {
    const client = await connect(server, 50);
    const limiter = new RedisLimiter(client, { timeoutMs: 50 });
    const check = [{ policyId: policyId(), rule: rule({ requests: 1_000_000 }), key: "k" }];
    expect((await limiter.check(check)).storeFailed).toBe(false);
    await server.kill();
    const down = await probe(limiter, check, 500);
    expect(Math.max(...down.map((s) => s.latency))).toBeLessThan(50 + SLACK_MS);
    expect(down.every((s) => s.decision.storeFailed)).toBe(true);
    await server.restart();
    let recovered = false;
    const deadline = Date.now() + 10_000;
    while (!recovered && Date.now() < deadline) {
      const t0 = performance.now();
      recovered = !(await limiter.check(check)).storeFailed;
      expect(performance.now() - t0).toBeLessThan(50 + SLACK_MS);
      if (!recovered) await sleep(50);
    }
    expect(recovered).toBe(true);
  });
});

describe("RedisLimiter on a 3-node Redis Cluster", () => {
  let cluster: RedisCluster;
  let client: Cluster;
  const cleanup = cleanupAfterAll();
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    cleanup.defer(() => cluster.stop());
    client = createRedisClient({
      cluster: { nodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) },
      timeoutMs: 1000,
    }) as Cluster;
    client.on("error", () => {});
    cleanup.defer(() => client.disconnect());
    await once(client, "ready");
  }, 60_000);

  it("checks rules whose keys live on different slots, each rule consumed on its own", async () => {
    const id = policyId();
    const a = { policyId: id, rule: rule({ name: "a", requests: 3, periodMs: 3_600_000 }), key: "u1" };
    const b = {
      policyId: id,
      rule: rule({ name: "b", algorithm: "TokenBucket", requests: 5, periodMs: 86_400_000 }),
      key: "u1",
    };
    const c = {
      policyId: `${id}-x`,
      rule: rule({ name: "c", algorithm: "LeakyBucket", requests: 100, periodMs: 1000, burst: 50 }),
      key: "u2",
    };
    const slots = await Promise.all([a, b, c].map((x) => client.cluster("KEYSLOT", ruleKeys(x).state)));
    expect(new Set(slots).size).toBe(3);
    await awayFromWindowEdge(3_600_000, 5000);
    const limiter = new RedisLimiter(client, { timeoutMs: 1000 });
    const decisions: LimitDecision[] = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.check([a, b, c]));
    expect(decisions.map((d) => (d.allowed ? "+" : "-")).join("")).toBe("+++--");
    expect(decisions.every((d) => !d.storeFailed)).toBe(true);
    expect(decisions[4]?.mostRestrictive).toMatchObject({ rule: "a", status: "refused" });
    // Documented Cluster behaviour: b's tokens were spent by the two requests a refused.
    expect((await limiter.inspect(b)).outcome).toMatchObject({ status: "refused", remaining: 0 });
    await limiter.reset(b);
    // The next request would pass and leave 4.
    expect((await limiter.inspect(b)).outcome).toMatchObject({ status: "allowed", remaining: 4 });
  });

  it("is exact across replicas on Cluster too", async () => {
    const r = rule({ algorithm: "TokenBucket", requests: 40, periodMs: 86_400_000 });
    const check = [{ policyId: policyId(), rule: r, key: "shared" }];
    const limiter = new RedisLimiter(client, { timeoutMs: 5000 });
    const other = createRedisClient({
      cluster: { nodes: [`${cluster.nodes[1]?.host}:${cluster.nodes[1]?.port}`] },
      timeoutMs: 5000,
    }) as Cluster;
    other.on("error", () => {});
    cleanup.defer(() => other.disconnect());
    await once(other, "ready");
    const replicas = [limiter, new RedisLimiter(other, { timeoutMs: 5000 })];
    const decisions = (await Promise.all(replicas.map((l) => accepted(l, check, 50)))).flat();
    expect(decisions.filter((d) => d.storeFailed)).toHaveLength(0);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(40);
  });
});
