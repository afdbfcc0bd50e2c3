// Last known good, per object: what the previous snapshot served for each object, so an
// object that was valid and became invalid keeps serving its last valid version instead
// of dropping out (dropping a policy would serve its routes unprotected; dropping a route
// would let its paths fall through to a less specific one). The previous snapshot is the
// only memory needed: an object already kept at its last good version is in it that way
// too, and a restarted or newly elected operator reads it back from the published Secret.
import type {
  Snapshot,
  SnapshotApiKey,
  SnapshotAuthzPolicy,
  SnapshotPool,
  SnapshotRateLimitPolicy,
  SnapshotRouteMatch,
  SnapshotRule,
} from "../api/snapshot/schema.ts";

export interface LastGoodRoute {
  rules: SnapshotRule[];
  /** Every (host, match) the route's rules had, in the order they were served. */
  matches: { hostname: string; match: SnapshotRouteMatch }[];
}

export interface LastGoodPolicy<P> {
  policy: P;
  /** The rules it was attached to. */
  ruleIds: string[];
}

function group<T>(items: readonly T[], keyOf: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = keyOf(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

const routeKey = (r: SnapshotRule) => `${r.route.namespace}/${r.route.name}`;

export class LastGood {
  readonly #previous: Snapshot | undefined;
  #rulesByRoute: Map<string, SnapshotRule[]> | undefined;

  constructor(previous: Snapshot | undefined) {
    this.#previous = previous;
  }

  /** The generation the previous snapshot served, when the object had one (clusters do; files do not). */
  generation(kind: string, namespace: string, name: string): number | undefined {
    return this.#previous?.generations?.[`${kind}/${namespace}/${name}`];
  }

  pool(id: string): SnapshotPool | undefined {
    return this.#previous?.pools.find((p) => p.id === id);
  }

  route(namespace: string, name: string): LastGoodRoute | undefined {
    const previous = this.#previous;
    if (!previous) return undefined;
    this.#rulesByRoute ??= group(previous.rules, routeKey);
    const rules = this.#rulesByRoute.get(`${namespace}/${name}`);
    // A route that only ever had refusing placeholders was never good.
    if (!rules || rules.some((r) => r.refuse?.invalidRoute)) return undefined;
    const ids = new Set(rules.map((r) => r.id));
    const matches = previous.virtualHosts.flatMap((v) =>
      v.routes.filter((m) => ids.has(m.rule)).map((match) => ({ hostname: v.hostname, match })),
    );
    return { rules, matches };
  }

  rateLimitPolicy(id: string): LastGoodPolicy<SnapshotRateLimitPolicy> | undefined {
    const policy = this.#previous?.rateLimitPolicies.find((p) => p.id === id);
    if (!policy) return undefined;
    const ruleIds = (this.#previous?.rules ?? [])
      .filter((r) => r.rateLimitPolicies.includes(id))
      .map((r) => r.id);
    return { policy, ruleIds };
  }

  authzPolicy(id: string): LastGoodPolicy<SnapshotAuthzPolicy> | undefined {
    const policy = this.#previous?.authzPolicies.find((p) => p.id === id);
    if (!policy) return undefined;
    const ruleIds = (this.#previous?.rules ?? []).filter((r) => r.authzPolicy === id).map((r) => r.id);
    return { policy, ruleIds };
  }

  /** The key's last entry, when the previous snapshot hashed keys with the same hash key. */
  apiKey(id: string, hashKeyId: string): SnapshotApiKey | undefined {
    if (this.#previous?.apiKeys.hashKeyId !== hashKeyId) return undefined;
    return this.#previous.apiKeys.keys.find((k) => k.id === id);
  }
}
