import { describe, expect, it } from "vitest";
import { world as compileBenchWorld } from "../../bench/world.ts";
import type { KubeObject } from "../api/common.ts";
import { hasCode } from "../api/errors.ts";
import type { GatewayRouteSpec } from "../api/gateway-route.ts";
import { applyBudgets, DEFAULT_BUDGETS, parseBudgets, routeCounts, specBytes } from "./budgets.ts";
import { compileSnapshot } from "./compile.ts";
import { ObjectIndex } from "./object-index.ts";
import { StatusBook } from "./status-book.ts";

const API = "sluice.dev/v1alpha1";
const pool = (namespace: string) => ({
  apiVersion: API,
  kind: "BackendPool",
  metadata: { name: "app", namespace },
  spec: { endpoints: [{ address: "10.0.0.1", port: 80 }] },
});
const route = (namespace: string, name: string, paths: string[], creationTimestamp?: string) => ({
  apiVersion: API,
  kind: "GatewayRoute",
  metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) },
  spec: {
    rules: [{ matches: paths.map((value) => ({ path: { value } })), backendRefs: [{ name: "app" }] }],
  },
});
/** A valid route of about `kb` KB: 16 rules of 16 matches with long paths. */
const bigRoute = (namespace: string, name: string, kb: number) => ({
  apiVersion: API,
  kind: "GatewayRoute",
  metadata: { name, namespace },
  spec: {
    rules: Array.from({ length: 16 }, (_, r) => ({
      matches: Array.from({ length: 16 }, (_, m) => ({
        path: { value: `/${name}/${r}/${m}/${"x".repeat(Math.floor((kb * 1000) / 256) - 40)}` },
      })),
      backendRefs: [{ name: "app" }],
    })),
  },
});

/** Objects whose Accepted condition is False, as "Kind/namespace/name reason". */
function refused(objects: unknown[], budgets = {}): string[] {
  const status = new StatusBook();
  applyBudgets(new ObjectIndex(objects, status), status, budgets);
  return status
    .list()
    .filter((s) => s.conditions.some((c) => c.type === "Accepted" && c.status === "False"))
    .map((s) => `${s.kind}/${s.namespace}/${s.name} ${s.conditions[0]?.reason}`);
}

describe("parseBudgets", () => {
  it("reads name=value pairs, with Ki and Mi", () => {
    expect(parseBudgets("objectBytes=64Ki, namespaceBytes=2Mi,namespaceRoutes=500")).toEqual({
      objectBytes: 65_536,
      namespaceBytes: 2_097_152,
      namespaceRoutes: 500,
    });
    expect(parseBudgets("")).toEqual({});
  });

  it.each([
    ["objectbytes=1", /unknown budget "objectbytes"/],
    ["objectBytes=0", /objectBytes="0" must be a positive integer/],
    ["objectBytes=-1", /must be a positive integer/],
    ["objectBytes=1.5", /must be a positive integer/],
    ["objectBytes=12KB", /must be a positive integer/],
    ["objectBytes", /objectBytes="" must be/],
  ])("refuses %s", (text, message) => {
    let thrown: unknown;
    try {
      parseBudgets(text);
    } catch (err) {
      thrown = err;
    }
    expect(hasCode(thrown, "SLUICE_CONFIG_INVALID")).toBe(true);
    expect(String(thrown)).toMatch(message);
  });
});

describe("routeCounts", () => {
  it("counts routing entries and regular expressions once per hostname", () => {
    const spec = {
      hostnames: ["a.example.com", "b.example.com"],
      rules: [
        {
          matches: [
            { path: { type: "RegularExpression", value: "^/a$" } },
            { headers: [{ name: "x", type: "RegularExpression", value: "^1$" }], queryParams: [] },
          ],
        },
        {},
      ],
    } as unknown as GatewayRouteSpec;
    // Rule 0: two matches; rule 1: none, so it matches everything (one entry).
    expect(routeCounts(spec)).toEqual({ matches: 6, regexes: 4 });
  });
});

describe("applyBudgets", () => {
  it("an oversized object is refused while other namespaces keep flowing", () => {
    // The incident: six valid ~250 KB routes in one namespace. Under the default budgets
    // each is refused on its own, and the other namespace's route is served.
    const objects = [
      pool("greedy"),
      ...Array.from({ length: 6 }, (_, i) => bigRoute("greedy", `big-${i}`, 250)),
      pool("calm"),
      route("calm", "orders", ["/orders"]),
    ];
    const { snapshot, statuses } = compileSnapshot(objects, { apiKeyHashKey: "k" });
    expect(snapshot.rules.map((r) => r.id)).toEqual(["calm/orders/0"]);
    const big = statuses.filter((s) => s.name.startsWith("big-"));
    expect(big).toHaveLength(6);
    for (const s of big) {
      expect(s.conditions[0]).toMatchObject({ type: "Accepted", status: "False", reason: "TooLarge" });
      expect(s.conditions[0]?.message).toMatch(
        /^spec: 2\d{5} bytes as JSON, over the objectBytes budget of 131072; .*--budgets objectBytes=N/,
      );
    }
  });

  it("the benchmark worlds compile under the default budgets", () => {
    // bench/proxy/targets.ts sluice-10k: 10,000 routes and 10,000 keys in one namespace.
    const tenK: unknown[] = [pool("bench")];
    for (let i = 0; i < 10_000; i++) {
      tenK.push(route("bench", `svc-${i}`, [`/svc-${i}`]));
      const n = String(i).padStart(5, "0");
      tenK.push({
        apiVersion: API,
        kind: "ApiKey",
        metadata: { name: `key-${n}`, namespace: "bench" },
        spec: { consumer: `consumer-${n}`, secretRef: { name: `key-${n}`, key: "key" } },
      });
    }
    expect(refused(tenK)).toEqual([]);
    expect(refused(compileBenchWorld())).toEqual([]);
  });

  it("refuses the newest of a namespace over its budget, whatever the input order", () => {
    const objects = [
      route("a", "old", ["/old"], "2026-01-01T00:00:00Z"),
      route("a", "mid-b", ["/mid-b"], "2026-01-02T00:00:00Z"),
      route("a", "mid-a", ["/mid-a"], "2026-01-02T00:00:00Z"),
      route("a", "new", ["/new"], "2026-01-03T00:00:00Z"),
      route("b", "other", ["/other"], "2026-01-04T00:00:00Z"),
    ];
    const expected = [
      "GatewayRoute/a/mid-b NamespaceBudgetExceeded",
      "GatewayRoute/a/new NamespaceBudgetExceeded",
    ];
    expect(refused(objects, { namespaceRoutes: 2 })).toEqual(expected);
    expect(refused([...objects].reverse(), { namespaceRoutes: 2 })).toEqual(expected);
  });

  it("once a namespace's bytes overflow, every newer object is refused, small ones too", () => {
    const objects = [
      route("a", "first", ["/1"], "2026-01-01T00:00:00Z"),
      route("a", "large", ["/2", "/22", "/222", "/2222"], "2026-01-02T00:00:00Z"),
      route("a", "small", ["/3"], "2026-01-03T00:00:00Z"),
    ];
    // Measured as compile sees it: defaults applied.
    const first = specBytes(new ObjectIndex(objects, new StatusBook()).list("GatewayRoute")[0] as KubeObject);
    expect(refused(objects, { namespaceBytes: first + 20 })).toEqual([
      "GatewayRoute/a/large NamespaceBudgetExceeded",
      "GatewayRoute/a/small NamespaceBudgetExceeded",
    ]);
  });

  it("does not count objects refused on their own against their namespace", () => {
    const objects = [
      route(
        "a",
        "huge",
        Array.from({ length: 16 }, (_, i) => `/huge-${i}`),
        "2026-01-01T00:00:00Z",
      ),
      route("a", "fits", ["/fits"], "2026-01-02T00:00:00Z"),
    ];
    expect(refused(objects, { routeMatches: 8, namespaceRoutes: 1 })).toEqual([
      "GatewayRoute/a/huge TooLarge",
    ]);
  });

  it("keeps the defaults for budgets given as undefined", () => {
    const objects = [bigRoute("a", "big", 250)];
    expect(refused(objects, { objectBytes: undefined })).toEqual(["GatewayRoute/a/big TooLarge"]);
    expect(DEFAULT_BUDGETS.objectBytes).toBe(128 * 1024);
  });
});
