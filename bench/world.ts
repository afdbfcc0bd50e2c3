// The benchmark world: 10,000 routes, 2,000 pools, 500 rate-limit policies and 10,000 API keys
// (other route and key counts for bench/snapshot-size.ts).
export const ROUTES = 10_000;
export const POOLS = 2_000;
export const KEYS = 10_000;

export function world(routes = ROUTES, keys = KEYS): unknown[] {
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
  for (let i = 0; i < routes; i++) {
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
  for (let i = 0; i < keys; i++) {
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
