// Compile benchmark: 10,000 routes, 2,000 pools and 10,000 API keys (with their Secrets).
// Target: a whole-world compile in at most 1 s, so the operator can recompile on every
// event burst. Prints the median of several runs and its ratio to the target.
import { performance } from "node:perf_hooks";
import { compileSnapshot } from "../operator/src/compile/compile.ts";

const ROUTES = 10_000;
const POOLS = 2_000;
const KEYS = 10_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGET_MS = 1000;

function world(): unknown[] {
  const objects: unknown[] = [];
  const meta = (name: string, i: number) => ({
    name,
    namespace: `team-${i % 20}`,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  });
  for (let i = 0; i < POOLS; i++) {
    objects.push({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: meta(`pool-${i}`, i),
      spec: {
        endpoints: [1, 2, 3].map((n) => ({ address: `10.${(i >> 8) & 255}.${i & 255}.${n}`, port: 8080 })),
        healthCheck: { passive: {} },
      },
    });
  }
  for (let i = 0; i < ROUTES; i++) {
    objects.push({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "GatewayRoute",
      metadata: meta(`route-${i}`, i),
      spec: {
        hostnames: [`api-${i % 50}.example.com`],
        rules: [
          {
            name: "main",
            matches: [
              { path: { type: "PathPrefix", value: `/svc-${i}` } },
              { path: { type: "Exact", value: `/svc-${i}/health` }, method: "GET" },
            ],
            backendRefs: [
              { name: `pool-${i % POOLS}`, weight: 90 },
              { name: `pool-${(i + 1) % POOLS}`, weight: 10 },
            ],
            timeouts: { request: "10s" },
          },
        ],
      },
    });
  }
  for (let i = 0; i < 500; i++) {
    objects.push({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "RateLimitPolicy",
      metadata: meta(`limits-${i}`, i),
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: `route-${i}` }],
        rules: [
          { name: "per-ip", key: { type: "ClientIP" }, limit: { requests: 100, per: "1m", burst: 10 } },
        ],
      },
    });
  }
  for (let i = 0; i < KEYS; i++) {
    const m = meta(`key-${i}`, i);
    objects.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { ...m, name: `key-${i}` },
      stringData: { key: `sk_bench_${i.toString().padStart(12, "0")}` },
    });
    objects.push({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "ApiKey",
      metadata: m,
      spec: {
        secretRef: { name: `key-${i}`, key: "key" },
        consumer: `consumer-${i % 1000}`,
        scopes: ["read"],
      },
    });
  }
  return objects;
}

const objects = world();
const times: number[] = [];
let result: ReturnType<typeof compileSnapshot> | undefined;
for (let run = 0; run < RUNS; run++) {
  const start = performance.now();
  result = compileSnapshot(objects, { apiKeyHashKey: "bench" });
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
const s = result?.snapshot;
console.log(
  `compile: ${ROUTES} routes, ${POOLS} pools, ${KEYS} API keys → ${s?.rules.length} rules, ${s?.pools.length} pools, ${s?.apiKeys.keys.length} keys, ${s?.virtualHosts.length} hosts`,
);
console.log(`compile: median ${median.toFixed(0)} ms, min ${times[0]?.toFixed(0)} ms over ${RUNS} runs`);
console.log(`compile: ratio to the 1 s target ${(median / TARGET_MS).toFixed(2)} (≤ 1.00 passes)`);
const failed = (result?.statuses ?? []).filter((st) =>
  st.conditions.some((c) => c.type === "Accepted" && c.status === "False"),
);
if (failed.length > 0)
  console.log(`warning: ${failed.length} objects not accepted, e.g. ${JSON.stringify(failed[0])}`);
if (median > TARGET_MS) process.exitCode = 1;
