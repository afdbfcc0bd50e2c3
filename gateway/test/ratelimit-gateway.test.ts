// Rate limiting through the gateway, black box: RateLimitPolicies as a platform team writes
// them, in memory (standalone) and in a real Redis, with what the client sees — RateLimit
// headers, 429 problem+json naming the policy, Retry-After — and the failure modes.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../test-support/index.ts";
import { closeAfterEach, json, pool, simpleRoute } from "./harness.ts";
import { type RedisServer, startRedis } from "./redis-harness.ts";

const t = closeAfterEach();

const policy = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "RateLimitPolicy",
  metadata: { name, namespace: "test" },
  spec: { targetRefs: [{ kind: "GatewayRoute", name: "api" }], ...spec },
});
const rule = (extra: Record<string, unknown> = {}) => ({
  name: "per-client",
  key: { type: "ClientIP" },
  algorithm: "FixedWindow",
  limit: { requests: 5, per: "1h" },
  ...extra,
});

async function gatewayWith(policies: unknown[], config: Record<string, unknown> = {}) {
  const up = await t.upstream("api");
  const gw = await t.gateway([pool("api", [up.port]), simpleRoute("api", "api"), ...policies], config);
  return { gw, up };
}

async function statuses(
  send: () => Promise<{ statusCode: number; body: { dump(): Promise<void> } }>,
  n: number,
) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await send();
    out.push(res.statusCode);
    await res.body.dump();
  }
  return out;
}

/** API-key authentication from x-api-key on the `api` route, everyone allowed. */
const API_KEY_AUTH = {
  apiVersion: "sluice.dev/v1alpha1",
  kind: "AuthzPolicy",
  metadata: { name: "keys", namespace: "test" },
  spec: {
    targetRefs: [{ kind: "GatewayRoute", name: "api" }],
    authentication: { apiKey: { from: [{ header: "x-api-key" }] } },
    defaultAction: "Allow",
  },
};

describe("rate limits in memory (standalone)", () => {
  it("passes the limit with RateLimit headers, then answers 429 naming the policy, with Retry-After", async () => {
    const { gw, up } = await gatewayWith([policy("limits", { rules: [rule()] })]);
    for (let i = 0; i < 5; i++) {
      const res = await gw.request("/x");
      expect(res.statusCode).toBe(200);
      expect(res.headers["ratelimit-policy"]).toBe('"test/limits/per-client";q=5;w=3600');
      expect(res.headers.ratelimit).toMatch(new RegExp(`^"test/limits/per-client";r=${4 - i};t=\\d+$`));
      await res.body.dump();
    }
    const refused = await gw.request("/x");
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["content-type"]).toBe("application/problem+json");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    const body = await json<{ type: string; detail: string }>(refused);
    expect(body.type).toBe("https://sluice.dev/problems/quota-exceeded");
    expect(body.detail).toContain("test/limits/per-client");
    expect(up.requests).toHaveLength(5);
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    expect(metrics).toContain(
      'sluice_ratelimit_decisions_total{policy="test/limits",rule="per-client",result="allowed"} 5',
    );
    expect(metrics).toContain(
      'sluice_ratelimit_decisions_total{policy="test/limits",rule="per-client",result="limited"} 1',
    );
  });

  it("keys by consumer with per-tenant overrides, and reports the most restrictive of two policies", async () => {
    const key = (name: string, consumer: string, value: string) => [
      { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "test" }, stringData: { key: value } },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "ApiKey",
        metadata: { name, namespace: "test" },
        spec: { consumer, secretRef: { name, key: "key" } },
      },
    ];
    const { gw } = await gatewayWith([
      ...key("gold", "gold-co", "key-gold-0123456789"),
      ...key("basic", "basic-co", "key-basic-0123456789"),
      API_KEY_AUTH,
      policy("per-consumer", {
        rules: [
          rule({
            name: "quota",
            key: { type: "Consumer" },
            limit: { requests: 2, per: "1h" },
            overrides: [{ match: "gold-co", requests: 4 }],
          }),
        ],
      }),
      policy("global", {
        rules: [rule({ name: "all", key: { type: "Global" }, limit: { requests: 100, per: "1h" } })],
      }),
    ]);
    const as = (k: string) => () => gw.request("/x", { headers: { "x-api-key": k } });
    expect(await statuses(as("key-basic-0123456789"), 3)).toEqual([200, 200, 429]);
    expect(await statuses(as("key-gold-0123456789"), 5)).toEqual([200, 200, 200, 200, 429]);
    const res = await as("key-gold-0123456789")();
    await res.body.dump();
    // The consumer quota (0 left) is tighter than the global one (93 left): it is reported.
    expect(res.headers["ratelimit-policy"]).toBe('"test/per-consumer/quota";q=4;w=3600');
  });

  it("sends legacy headers with DraftAndLegacy and none (but Retry-After) with None", async () => {
    const legacy = await gatewayWith([
      policy("l", {
        responseHeaders: "DraftAndLegacy",
        rules: [rule({ limit: { requests: 1, per: "1m" } })],
      }),
    ]);
    const first = await legacy.gw.request("/x");
    await first.body.dump();
    expect(first.headers["x-ratelimit-limit"]).toBe("1");
    expect(first.headers["x-ratelimit-remaining"]).toBe("0");
    expect(Number(first.headers["x-ratelimit-reset"])).toBeGreaterThan(0);
    const quiet = await gatewayWith([
      policy("n", { responseHeaders: "None", rules: [rule({ limit: { requests: 1, per: "1m" } })] }),
    ]);
    const ok = await quiet.gw.request("/x");
    await ok.body.dump();
    expect(ok.headers.ratelimit).toBeUndefined();
    expect(ok.headers["ratelimit-policy"]).toBeUndefined();
    const refused = await quiet.gw.request("/x");
    await refused.body.dump();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers.ratelimit).toBeUndefined();
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });

  it("lets an operator read and reset a key on the admin listener", async () => {
    const { gw } = await gatewayWith([
      policy("limits", { rules: [rule({ limit: { requests: 2, per: "1h" }, blockDuration: "10m" })] }),
    ]);
    expect(await statuses(() => gw.request("/x"), 3)).toEqual([200, 200, 429]);
    const state = await request(`${gw.adminUrl}/ratelimit/test/limits/per-client?key=127.0.0.1`);
    const inspected = (await state.body.json()) as { blockedForMs: number; outcome: { remaining: number } };
    expect(inspected.blockedForMs).toBeGreaterThan(9 * 60_000);
    expect(inspected.outcome.remaining).toBe(0);
    const reset = await request(`${gw.adminUrl}/ratelimit/test/limits/per-client?key=127.0.0.1`, {
      method: "DELETE",
    });
    expect(await reset.body.json()).toEqual({ reset: true });
    expect(await statuses(() => gw.request("/x"), 1)).toEqual([200]);
    const missing = await request(`${gw.adminUrl}/ratelimit/test/limits/nope`);
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
  });

  it("blocks a client after repeated refused credentials, even with a valid key afterwards", async () => {
    const { gw, up } = await gatewayWith(
      [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "k", namespace: "test" },
          stringData: { key: "right-key-0123456789" },
        },
        {
          apiVersion: "sluice.dev/v1alpha1",
          kind: "ApiKey",
          metadata: { name: "k", namespace: "test" },
          spec: { consumer: "c", secretRef: { name: "k", key: "key" } },
        },
        API_KEY_AUTH,
      ],
      { authFailureLimit: 3, authFailureWindowMs: 60_000, authFailureBlockMs: 120_000 },
    );
    const guess = (i: number) => () =>
      gw.request("/x", { headers: { "x-api-key": `wrong-guess-${i}-0123456789` } });
    for (let i = 0; i < 4; i++) expect(await statuses(guess(i), 1)).toEqual([401]);
    await sleep(50); // failures are counted asynchronously
    const blocked = await gw.request("/x", { headers: { "x-api-key": "right-key-0123456789" } });
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(60);
    expect((await json<{ detail: string }>(blocked)).detail).toContain(
      "too many failed authentication attempts",
    );
    expect(up.requests).toHaveLength(0);
  });
});

describe("rate limits in Redis", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it("follows failureMode when Redis is paused or down, and resumes by itself", async () => {
    await redis.cli("FLUSHALL");
    const { gw } = await gatewayWith(
      [policy("open", { failureMode: "Open", rules: [rule({ limit: { requests: 1000, per: "1h" } })] })],
      { redisUrl: redis.url, redisTimeoutMs: 50 },
    );
    const ok = await gw.request("/x");
    await ok.body.dump();
    expect(ok.statusCode).toBe(200);
    expect(ok.headers.ratelimit).toBeDefined();
    await redis.cli("CLIENT", "PAUSE", "1500", "ALL");
    const started = performance.now();
    const paused = await gw.request("/x");
    const tookMs = performance.now() - started;
    await paused.body.dump();
    // failureMode Open: through, without headers, within the 50 ms bound (plus the proxying).
    expect(paused.statusCode).toBe(200);
    expect(paused.headers.ratelimit).toBeUndefined();
    expect(tookMs).toBeLessThan(1000);
    await sleep(1600);
    await redis.kill();
    const down = await gw.request("/x");
    await down.body.dump();
    expect(down.statusCode).toBe(200);
    await redis.restart();
    let headers: string | undefined;
    for (let i = 0; i < 50 && !headers; i++) {
      await sleep(100);
      const res = await gw.request("/x");
      await res.body.dump();
      headers = res.headers.ratelimit as string | undefined;
    }
    expect(headers).toMatch(/^"test\/open\/per-client";r=\d+;t=\d+$/);
  });

  it("refuses with 503 under failureMode Closed while Redis cannot answer", async () => {
    const { gw } = await gatewayWith(
      [policy("closed", { failureMode: "Closed", rules: [rule({ limit: { requests: 1000, per: "1h" } })] })],
      {
        redisUrl: redis.url,
        redisTimeoutMs: 50,
      },
    );
    expect(await statuses(() => gw.request("/x"), 1)).toEqual([200]);
    await redis.cli("CLIENT", "PAUSE", "1000", "ALL");
    const res = await gw.request("/x");
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect((await json<{ type: string }>(res)).type).toBe(
      "https://sluice.dev/problems/rate-limit-unavailable",
    );
    await sleep(1100);
    expect(await statuses(() => gw.request("/x"), 1)).toEqual([200]);
  });
});

// What a client is told on a 429 must be true: RateLimit's t (draft-10: seconds until more
// quota) is never later than Retry-After, waiting Retry-After seconds gets a request through,
// and the admin inspection of the key says what the next request gets. For every algorithm,
// in memory and in Redis. (A TokenBucket said Retry-After: 2 with t=10; inspection said
// "allowed" on an exhausted key.)
describe("what a refused client is told, for every algorithm and store", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  const LIMITS: Record<string, Record<string, unknown>> = {
    FixedWindow: { limit: { requests: 2, per: "2s" } },
    SlidingWindow: { limit: { requests: 2, per: "2s" } },
    TokenBucket: { limit: { requests: 5, per: "10s" } },
    LeakyBucket: { limit: { requests: 2, per: "2s", burst: 1 } },
  };
  const cases = ["memory", "redis"].flatMap((store) => Object.keys(LIMITS).map((a) => [store, a]));
  const tOf = (header: unknown) => Number(/;t=(\d+)/.exec(String(header))?.[1]);

  it.each(cases)(
    "%s, %s: t ≤ Retry-After, inspection says refused, and Retry-After later it passes",
    async (store, algorithm) => {
      const { gw } = await gatewayWith(
        [policy("limits", { rules: [rule({ name: "r", algorithm, ...LIMITS[algorithm] })] })],
        store === "redis" ? { redisUrl: redis.url, redisTimeoutMs: 1000 } : {},
      );
      const inspect = async () => {
        const res = await request(`${gw.adminUrl}/ratelimit/test/limits/r?key=127.0.0.1`);
        return (await res.body.json()) as { outcome: { status: string; retryAfterMs: number } };
      };
      expect((await inspect()).outcome.status).toBe("allowed");
      let refused: Awaited<ReturnType<typeof gw.request>> | undefined;
      for (let i = 0; i < 10 && !refused; i++) {
        const res = await gw.request("/x");
        await res.body.dump();
        if (res.statusCode === 429) refused = res;
        else expect(res.headers.ratelimit).toMatch(/^"test\/limits\/r";r=\d+;t=\d+$/);
      }
      if (!refused) throw new Error("never refused");
      const retryAfter = Number(refused.headers["retry-after"]);
      const t = tOf(refused.headers.ratelimit);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(t).toBeGreaterThanOrEqual(1);
      expect(t).toBeLessThanOrEqual(retryAfter);
      const seen = await inspect();
      expect(seen.outcome.status).toBe("refused");
      expect(seen.outcome.retryAfterMs).toBeLessThanOrEqual(retryAfter * 1000);
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      expect((await inspect()).outcome.status).toBe("allowed");
      expect(await statuses(() => gw.request("/x"), 1)).toEqual([200]);
    },
  );
});
