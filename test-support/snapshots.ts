// A compiled snapshot of a given size for tests of snapshot delivery: one pool and `routes`
// routes whose paths are random, so the gzipped snapshot grows with them (chunking needs
// bytes that do not compress away).
import { randomBytes } from "node:crypto";
import type { Snapshot } from "../core/api/snapshot/schema.ts";
import { compileSnapshot } from "../core/compile/compile.ts";

export function snapshotWithRoutes(routes: number): Snapshot {
  const objects: unknown[] = [
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: { name: "p", namespace: "shop" },
      spec: { endpoints: [{ address: "10.0.0.1", port: 80 }] },
    },
  ];
  for (let i = 0; i < routes; i++)
    objects.push({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "GatewayRoute",
      metadata: { name: `r-${i}`, namespace: "shop" },
      spec: {
        hostnames: ["shop.example.com"],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: `/${randomBytes(24).toString("hex")}` } }],
            backendRefs: [{ name: "p" }],
          },
        ],
      },
    });
  return compileSnapshot(objects, { apiKeyHashKey: "test" }).snapshot;
}
