// Load-balancing algorithms of the data plane. A balancer is built once per endpoint set
// (at snapshot load) and pick() runs per request: it allocates nothing and reads the
// endpoints' current `healthy` and `inflight`, which the pool maintains, so health changes
// need no rebuild. When no endpoint is healthy pick() returns undefined (the pool answers
// 503); there is deliberately no "panic mode" that sends traffic to unhealthy endpoints.
// Weights come from the API as integers 1..1000; a weight of 0 (or a non-finite one) is
// read as "send nothing here".

/** What a balancer needs to know about an endpoint; the pool owns the real objects. */
export interface BalancedEndpoint {
  /** "address:port"; ConsistentHash places the endpoint in its table by this key. */
  readonly key: string;
  readonly weight: number;
  /** Requests in flight, maintained by the caller. */
  inflight: number;
  /** Maintained by the caller (health checks, outlier ejection). */
  healthy: boolean;
}

export interface Balancer<E extends BalancedEndpoint> {
  /**
   * An endpoint for this request, or undefined when none is healthy. `hash` is only used by
   * ConsistentHash: a 32-bit unsigned integer the caller computes (see hash32) from the
   * header, cookie or client IP; without one ConsistentHash picks a random table slot.
   */
  pick(hash?: number): E | undefined;
}

export type BalancingAlgorithm = "RoundRobin" | "LeastRequest" | "Random" | "ConsistentHash";

export function createBalancer<E extends BalancedEndpoint>(
  algorithm: BalancingAlgorithm,
  endpoints: readonly E[],
  random: () => number = Math.random,
): Balancer<E> {
  const list = endpoints.slice(); // the set is fixed from here on, whatever the caller does
  switch (algorithm) {
    case "RoundRobin":
      return roundRobin(list);
    case "LeastRequest":
      return leastRequest(list, random);
    case "Random":
      return weightedRandom(list, random);
    case "ConsistentHash":
      return maglev(list, random);
  }
}

/**
 * A fast, well-distributed 32-bit string hash for consistent-hashing keys: FNV-1a over the
 * UTF-16 code units, then murmur3's fmix32 finaliser (FNV-1a alone leaves the low bits of
 * short, similar keys such as "user-1", "user-2" poorly mixed). Stable: every replica
 * computes the same value for the same key.
 */
export function hash32(value: string): number {
  return seededHash(value, 0);
}

function seededHash(value: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function weightOf(endpoint: BalancedEndpoint): number {
  return Number.isFinite(endpoint.weight) && endpoint.weight > 0 ? endpoint.weight : 0;
}

// RoundRobin: nginx's smooth weighted round-robin. Each pick adds every healthy endpoint's
// weight to its running score, takes the highest and subtracts the total from it. Over a
// cycle of sum(weights) picks each endpoint gets exactly its weight, interleaved rather
// than in bursts (5,1,1 gives a a b a c a a), so a heavy endpoint never gets a run of
// requests in a row. Deterministic and O(n) per pick, which is cheap for pool sizes.
function roundRobin<E extends BalancedEndpoint>(list: readonly E[]): Balancer<E> {
  const weights = Float64Array.from(list, weightOf);
  const current = new Float64Array(list.length);
  return {
    pick() {
      let best = -1;
      let bestScore = 0;
      let total = 0;
      for (let i = 0; i < list.length; i++) {
        const weight = weights[i] ?? 0;
        if (weight === 0 || !list[i]?.healthy) continue;
        const score = (current[i] ?? 0) + weight;
        current[i] = score;
        total += weight;
        if (best < 0 || score > bestScore) {
          best = i;
          bestScore = score;
        }
      }
      if (best < 0) return undefined;
      current[best] = bestScore - total;
      return list[best];
    },
  };
}

const SAMPLE_ATTEMPTS = 4;

/**
 * Weighted sampling of an endpoint index by binary search in a prefix-sum array built once.
 * A draw landing on an unhealthy (or excluded) endpoint is retried a few times, then a
 * linear scan samples among the eligible ones; both are exact, so the result follows the
 * weights of the eligible endpoints. -1 when none is eligible.
 */
function weightedSampler(list: readonly BalancedEndpoint[], random: () => number) {
  const weights = Float64Array.from(list, weightOf);
  const prefix = new Float64Array(list.length);
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    total += weights[i] ?? 0;
    prefix[i] = total;
  }
  return (exclude: number): number => {
    if (total > 0) {
      for (let attempt = 0; attempt < SAMPLE_ATTEMPTS; attempt++) {
        const x = random() * total;
        let lo = 0;
        let hi = list.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((prefix[mid] ?? 0) > x) hi = mid;
          else lo = mid + 1;
        }
        if (lo !== exclude && list[lo]?.healthy) return lo;
      }
    }
    let eligible = 0;
    for (let i = 0; i < list.length; i++) {
      if (i !== exclude && list[i]?.healthy) eligible += weights[i] ?? 0;
    }
    if (eligible === 0) return -1;
    let x = random() * eligible;
    let last = -1;
    for (let i = 0; i < list.length; i++) {
      const weight = weights[i] ?? 0;
      if (i === exclude || weight === 0 || !list[i]?.healthy) continue;
      last = i;
      x -= weight;
      if (x < 0) return i;
    }
    return last; // only reached through floating-point rounding
  };
}

// Random: weighted random. Stateless, so replicas and workers need no coordination and it
// cannot synchronise into bursts; O(log n) per pick through the prefix sums.
function weightedRandom<E extends BalancedEndpoint>(list: readonly E[], random: () => number): Balancer<E> {
  const sample = weightedSampler(list, random);
  return {
    pick() {
      return list[sample(-1)];
    },
  };
}

// LeastRequest: the power of two choices. Draw two distinct healthy endpoints (weighted)
// and take the one with fewer requests in flight per unit of weight. Nearly as good as
// scanning for the global minimum, O(log n), and, unlike a strict minimum, it does not send
// every replica's traffic to the same momentarily idle endpoint. On a tie the first draw
// wins, so with nothing in flight it is plain weighted random.
function leastRequest<E extends BalancedEndpoint>(list: readonly E[], random: () => number): Balancer<E> {
  const sample = weightedSampler(list, random);
  return {
    pick() {
      const a = sample(-1);
      const first = list[a];
      if (!first) return undefined;
      const second = list[sample(a)];
      if (!second) return first;
      // inflight/weight compared without dividing; weights of drawn endpoints are > 0.
      return second.inflight * weightOf(first) < first.inflight * weightOf(second) ? second : first;
    },
  };
}

/** Prime Maglev table sizes; the smallest with at least 100 slots per endpoint is used. */
const MAGLEV_SIZES = [4099, 16411, 65537];

/** The table size for n endpoints: ≥ 100 slots each (Maglev's advice) keeps shares within ~1%. */
function maglevTableSize(endpoints: number): number {
  for (const size of MAGLEV_SIZES) if (size >= endpoints * 100) return size;
  return 65537;
}

// ConsistentHash: Maglev hashing (Eisenbud et al., NSDI 2016). Each endpoint has its own
// permutation of the table slots, derived from its key; the endpoints take turns claiming
// their next free slot, an endpoint taking a turn in proportion to its weight (Envoy's
// weighted variant). Lookup is one array read, the shares follow the weights closely, and
// removing one of N endpoints moves little more than the 1/N of keys that were on it. The
// table is built in key order, so it does not depend on the order of the endpoint list. A
// key whose endpoint is unhealthy walks to the next slot with a healthy endpoint; the other
// keys do not move, and the key comes back when the endpoint is healthy again.
function maglev<E extends BalancedEndpoint>(list: readonly E[], random: () => number): Balancer<E> {
  const table = maglevTable(list);
  const size = table.length;
  return {
    pick(hash?: number) {
      if (size === 0) return undefined;
      const start = hash === undefined ? Math.floor(random() * size) % size : (hash >>> 0) % size;
      const owner = list[table[start] ?? -1];
      if (owner?.healthy) return owner;
      if (!anyHealthy(list)) return undefined; // saves walking the whole table
      for (let step = 1; step < size; step++) {
        const next = list[table[(start + step) % size] ?? -1];
        if (next?.healthy) return next;
      }
      return undefined;
    },
  };
}

function anyHealthy(list: readonly BalancedEndpoint[]): boolean {
  for (const endpoint of list) if (endpoint.healthy && weightOf(endpoint) > 0) return true;
  return false;
}

function maglevTable(list: readonly BalancedEndpoint[]): Int32Array {
  const order = list
    .map((_, i) => i)
    .filter((i) => weightOf(list[i] as BalancedEndpoint) > 0)
    .sort((a, b) => compareKeys(list[a]?.key ?? "", list[b]?.key ?? "") || a - b);
  if (order.length === 0) return new Int32Array(0);
  const size = maglevTableSize(order.length);
  const table = new Int32Array(size).fill(-1);
  const entries = order.map((index) => {
    const endpoint = list[index] as BalancedEndpoint;
    return {
      index,
      weight: weightOf(endpoint),
      position: seededHash(endpoint.key, 0x9e3779b9) % size,
      skip: (seededHash(endpoint.key, 0x85ebca77) % (size - 1)) + 1,
      claimed: 0, // turns taken, scaled by the largest weight
    };
  });
  const maxWeight = Math.max(...entries.map((e) => e.weight));
  let filled = 0;
  for (let round = 0; filled < size; round++) {
    for (const entry of entries) {
      if (filled === size) break;
      // An endpoint of the largest weight takes a turn every round, one of a third of it
      // every third round, and so on.
      if (round * entry.weight < entry.claimed) continue;
      entry.claimed += maxWeight;
      // skip is in 1..size-1 and size is prime, so this visits every slot.
      while (table[entry.position] !== -1) entry.position = (entry.position + entry.skip) % size;
      table[entry.position] = entry.index;
      entry.position = (entry.position + entry.skip) % size;
      filled++;
    }
  }
  return table;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
