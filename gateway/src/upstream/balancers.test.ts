// Load balancers: exact sequences where the algorithm is deterministic, distributions with
// a seeded PRNG where it is random, and Maglev's minimal remapping.
import { describe, expect, it } from "vitest";
import { type BalancedEndpoint, type Balancer, createBalancer, hash32 } from "./balancers.ts";

/** mulberry32: a tiny seeded PRNG, so the random tests give the same numbers every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ep(key: string, weight = 1): BalancedEndpoint {
  return { key, weight, inflight: 0, healthy: true };
}

/** Endpoints "a", "b", ... with the given weights. */
function pool(...weights: number[]): BalancedEndpoint[] {
  return weights.map((w, i) => ep(String.fromCharCode(97 + i), w));
}

function sequence(balancer: Balancer<BalancedEndpoint>, n: number): string {
  return Array.from({ length: n }, () => balancer.pick()?.key ?? "-").join("");
}

/** Share of picks per endpoint key. */
function shares(pick: () => BalancedEndpoint | undefined, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = pick()?.key ?? "-";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts].map(([key, count]) => [key, count / n]));
}

/** Each endpoint's share is within ±5% (relative) of its weight share. */
function expectWeightedShares(observed: Map<string, number>, endpoints: BalancedEndpoint[]): void {
  const total = endpoints.reduce((sum, e) => sum + e.weight, 0);
  expect([...observed.keys()].sort()).toEqual(endpoints.map((e) => e.key).sort());
  for (const e of endpoints) {
    const expected = e.weight / total;
    expect(Math.abs((observed.get(e.key) ?? 0) - expected)).toBeLessThanOrEqual(expected * 0.05);
  }
}

const uint32s = (n: number, seed: number) => {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(random() * 2 ** 32));
};

describe("RoundRobin", () => {
  it("interleaves by weight, nginx's smooth sequence", () => {
    expect(sequence(createBalancer("RoundRobin", pool(5, 1, 1)), 14)).toBe("aabacaa".repeat(2));
    expect(sequence(createBalancer("RoundRobin", pool(1, 1, 1)), 6)).toBe("abcabc");
  });

  it("gives each endpoint exactly its weight over every cycle", () => {
    const balancer = createBalancer("RoundRobin", pool(3, 7, 1, 4));
    for (let cycle = 0; cycle < 5; cycle++) {
      expect(shares(() => balancer.pick(), 15)).toEqual(
        new Map([
          ["a", 3 / 15],
          ["b", 7 / 15],
          ["c", 1 / 15],
          ["d", 4 / 15],
        ]),
      );
    }
  });

  it("skips unhealthy endpoints without a rebuild, and returns undefined when none is healthy", () => {
    const endpoints = pool(2, 1, 1);
    const balancer = createBalancer("RoundRobin", endpoints);
    const [a, b, c] = endpoints as [BalancedEndpoint, BalancedEndpoint, BalancedEndpoint];
    b.healthy = false;
    expect(sequence(balancer, 6)).toBe("acaaca");
    a.healthy = false;
    c.healthy = false;
    expect(balancer.pick()).toBeUndefined();
    b.healthy = true;
    expect(sequence(balancer, 2)).toBe("bb");
  });

  it("returns undefined for an empty pool", () => {
    expect(createBalancer("RoundRobin", []).pick()).toBeUndefined();
  });
});

describe("Random", () => {
  it("follows the weights within ±5% over 10,000 picks", () => {
    const endpoints = pool(5, 3, 2);
    const balancer = createBalancer("Random", endpoints, mulberry32(1));
    const observed = shares(() => balancer.pick(), 10_000);
    expectWeightedShares(observed, endpoints);
  });

  it("spreads over the healthy endpoints by weight, and returns undefined when none is", () => {
    const endpoints = pool(5, 3, 2);
    const balancer = createBalancer("Random", endpoints, mulberry32(2));
    const [a, b, c] = endpoints as [BalancedEndpoint, BalancedEndpoint, BalancedEndpoint];
    a.healthy = false;
    const observed = shares(() => balancer.pick(), 10_000);
    expectWeightedShares(observed, [b, c]);
    b.healthy = false;
    c.healthy = false;
    expect(balancer.pick()).toBeUndefined();
  });

  it("never picks an endpoint of weight 0", () => {
    const balancer = createBalancer("Random", [ep("a", 0), ep("b", 1)], mulberry32(3));
    expect(sequence(balancer, 100)).toBe("b".repeat(100));
  });
});

describe("LeastRequest", () => {
  it("with nothing in flight, follows the weights within ±5% over 10,000 picks", () => {
    const endpoints = pool(5, 3, 2);
    const balancer = createBalancer("LeastRequest", endpoints, mulberry32(4));
    const observed = shares(() => balancer.pick(), 10_000);
    expectWeightedShares(observed, endpoints);
  });

  it("takes the endpoint with fewer requests in flight", () => {
    const endpoints = pool(1, 1);
    const balancer = createBalancer("LeastRequest", endpoints, mulberry32(5));
    (endpoints[0] as BalancedEndpoint).inflight = 100;
    expect(shares(() => balancer.pick(), 1000)).toEqual(new Map([["b", 1]]));
  });

  it("the busiest of five is only picked when it is the less busy of the two drawn: never", () => {
    const endpoints = pool(1, 1, 1, 1, 1);
    endpoints.forEach((e, i) => {
      e.inflight = [100, 3, 2, 1, 0][i] ?? 0;
    });
    const balancer = createBalancer("LeastRequest", endpoints, mulberry32(6));
    const observed = shares(() => balancer.pick(), 10_000);
    expect(observed.get("a")).toBeUndefined();
    // e is the less busy of any pair it is drawn in: 4 of the 10 pairs.
    expect(observed.get("e")).toBeCloseTo(0.4, 1);
  });

  it("compares inflight per unit of weight", () => {
    const endpoints = [ep("heavy", 10), ep("light", 1)];
    (endpoints[0] as BalancedEndpoint).inflight = 9; // 0.9 per unit of weight
    (endpoints[1] as BalancedEndpoint).inflight = 1; // 1 per unit of weight
    const balancer = createBalancer("LeastRequest", endpoints, mulberry32(7));
    expect(shares(() => balancer.pick(), 100)).toEqual(new Map([["heavy", 1]]));
  });

  it("falls back to the single healthy endpoint, and returns undefined when none is healthy", () => {
    const endpoints = pool(1, 1);
    const balancer = createBalancer("LeastRequest", endpoints, mulberry32(8));
    const [a, b] = endpoints as [BalancedEndpoint, BalancedEndpoint];
    a.inflight = 50;
    b.healthy = false;
    expect(balancer.pick()).toBe(a);
    a.healthy = false;
    expect(balancer.pick()).toBeUndefined();
  });
});

describe("ConsistentHash (Maglev)", () => {
  const keys = uint32s(10_000, 9);
  const five = () =>
    ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80"].map((k) => ep(k));
  const mapping = (balancer: Balancer<BalancedEndpoint>) => keys.map((h) => balancer.pick(h)?.key);

  it("maps the same hash to the same endpoint, whatever the order of the endpoint list", () => {
    const endpoints = five();
    const balancer = createBalancer("ConsistentHash", endpoints);
    const first = mapping(balancer);
    expect(mapping(balancer)).toEqual(first);
    expect(mapping(createBalancer("ConsistentHash", endpoints.slice().reverse()))).toEqual(first);
  });

  it("gives each endpoint its weight share of keys within ±5%", () => {
    const endpoints = [ep("10.0.0.1:80", 5), ep("10.0.0.2:80", 3), ep("10.0.0.3:80", 2)];
    const balancer = createBalancer("ConsistentHash", endpoints);
    let i = 0;
    const observed = shares(() => balancer.pick(keys[i++]), keys.length);
    expectWeightedShares(observed, endpoints);
  });

  it("moves few keys besides the removed endpoint's when one of five is removed", () => {
    const endpoints = five();
    const before = mapping(createBalancer("ConsistentHash", endpoints));
    const removed = "10.0.0.3:80";
    const after = mapping(
      createBalancer(
        "ConsistentHash",
        endpoints.filter((e) => e.key !== removed),
      ),
    );
    const moved = before.filter((key, i) => key !== after[i]).length / keys.length;
    expect(moved).toBeLessThanOrEqual(1 / 5 + 0.05);
    const stayers = before.flatMap((key, i) => (key === removed ? [] : [key === after[i]]));
    expect(stayers.filter(Boolean).length / stayers.length).toBeGreaterThan(0.95);
  });

  it("sends an unhealthy endpoint's keys elsewhere, and only those, until it is healthy again", () => {
    const endpoints = five();
    const balancer = createBalancer("ConsistentHash", endpoints);
    const before = mapping(balancer);
    const sick = endpoints[1] as BalancedEndpoint;
    sick.healthy = false;
    const during = mapping(balancer);
    for (const [i, key] of before.entries()) {
      if (key === sick.key) expect(during[i]).not.toBe(sick.key);
      else expect(during[i]).toBe(key);
    }
    // The sick endpoint's keys spread over the others rather than piling onto one.
    const inherited = new Set(during.filter((_, i) => before[i] === sick.key));
    expect(inherited.size).toBe(4);
    sick.healthy = true;
    expect(mapping(balancer)).toEqual(before);
    for (const e of endpoints) e.healthy = false;
    expect(balancer.pick(42)).toBeUndefined();
  });

  it("picks some endpoint without a hash, and none from an empty pool", () => {
    expect(createBalancer("ConsistentHash", five(), mulberry32(10)).pick()).toBeDefined();
    expect(createBalancer("ConsistentHash", []).pick(1)).toBeUndefined();
  });
});

describe("hash32", () => {
  it("is a 32-bit unsigned integer, stable across calls", () => {
    expect(hash32("user-1")).toBe(hash32("user-1"));
    expect(Number.isInteger(hash32("user-1"))).toBe(true);
    expect(hash32("")).toBeGreaterThanOrEqual(0);
    expect(hash32("user-1")).toBeLessThan(2 ** 32);
    expect(hash32("user-1")).not.toBe(hash32("user-2"));
  });

  it("spreads similar strings evenly over 10 buckets (each within ±10%)", () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 1; i <= 10_000; i++) {
      const bucket = hash32(`user-${i}`) % 10;
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const count of buckets) expect(Math.abs(count - 1000)).toBeLessThanOrEqual(100);
  });
});
