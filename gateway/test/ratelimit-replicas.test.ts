// Exact across replicas: three gateway processes (the real CLI) share one Redis; concurrent
// load spread over all three must be accepted exactly `limit` times per window — no peer
// guarantees this (Kong #2629, Traefik #13706).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { cleanupAfterAll } from "../../test-support/index.ts";
import { pool, route, startUpstream, type Upstream } from "./harness.ts";
import { type RedisServer, startRedis } from "./redis-harness.ts";
import { spawnGateway } from "./spawned-gateway.ts";

const LIMIT = 100;
const dir = mkdtempSync(join(tmpdir(), "sluice-replicas-"));
const { defer } = cleanupAfterAll();
const gateways: string[] = [];
let redis: RedisServer;
let upstream: Upstream;

const limited = (name: string, algorithm: string, burst?: number) => [
  route(name, {
    hostnames: [`${name}.test`],
    rules: [{ backendRefs: [{ name: "app" }] }],
  }),
  {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "RateLimitPolicy",
    metadata: { name, namespace: "test" },
    spec: {
      targetRefs: [{ kind: "GatewayRoute", name }],
      // Closed: a check that failed would show as 503, never as an extra 200.
      failureMode: "Closed",
      rules: [
        {
          name: "all",
          key: { type: "ClientIP" },
          algorithm,
          limit: { requests: LIMIT, per: "1h", ...(burst === undefined ? {} : { burst }) },
        },
      ],
    },
  },
];

beforeAll(async () => {
  defer(() => rmSync(dir, { recursive: true, force: true }));
  redis = await startRedis();
  defer(() => redis.stop());
  upstream = await startUpstream("app");
  defer(() => upstream.close());
  const objects = [
    pool("app", [upstream.port]),
    ...limited("fixed", "FixedWindow"),
    ...limited("bucket", "TokenBucket"),
    ...limited("sliding", "SlidingWindow"),
    // GCRA spaces requests evenly; burst lets LIMIT of them arrive at once.
    ...limited("leaky", "LeakyBucket", LIMIT - 1),
  ];
  writeFileSync(join(dir, "resources.yaml"), objects.map((o) => stringify(o)).join("---\n"));
  for (let i = 0; i < 3; i++) {
    const gateway = await spawnGateway(dir, [
      "--redis-url",
      redis.url,
      // Exactness is about the limiter, not the timeout: on a busy test machine a 50 ms
      // bound would let some checks fail open (failureMode is tested elsewhere).
      "--redis-timeout-ms",
      "2000",
    ]);
    defer(() => gateway.child.kill("SIGKILL"));
    gateways.push(gateway.url);
  }
}, 60_000);

/** `total` requests, `concurrency` at a time, round-robin over the three gateways. */
async function load(host: string, total: number, concurrency: number): Promise<Record<number, number>> {
  const agent = new Agent({ connections: concurrency });
  const counts: Record<number, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const res = await request(`${gateways[i % 3]}/`, { headers: { host }, dispatcher: agent });
      await res.body.dump();
      counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await agent.close();
  return counts;
}

describe("three replicas, one Redis", () => {
  it.each(["fixed", "bucket", "leaky"])(
    "%s: accepts exactly the limit under concurrent load",
    async (name) => {
      const counts = await load(`${name}.test`, 3 * LIMIT, 48);
      expect(counts[200]).toBe(LIMIT);
      expect(counts[429]).toBe(2 * LIMIT);
    },
  );

  it("sliding window: never more than the limit in the window", async () => {
    const counts = await load("sliding.test", 3 * LIMIT, 48);
    // Weighted counters: exact within one window when nothing came before (docs/rate-limiting.md).
    expect(counts[200]).toBe(LIMIT);
    expect(counts[429]).toBe(2 * LIMIT);
  });
});
