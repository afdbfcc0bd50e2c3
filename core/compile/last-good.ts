// Last known good, per object: what the previous snapshot served for each object, so an
// object that was valid and became invalid keeps serving its last valid version instead
// of dropping out (dropping a policy would serve its routes unprotected; dropping a route
// would let its paths fall through to a less specific one). The previous snapshot is the
// only memory needed: an object already kept at its last good version is in it that way
// too, and a restarted or newly elected operator reads it back from the published Secret.

import type { KubeObject } from "../api/common.ts";
import type {
  Snapshot,
  SnapshotApiKey,
  SnapshotAuthzPolicy,
  SnapshotPool,
  SnapshotRateLimitPolicy,
  SnapshotRouteMatch,
  SnapshotRule,
} from "../api/snapshot/schema.ts";
import { namespaceOf } from "./status-book.ts";

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
const byId = <T extends { id: string }>(items: readonly T[]) => new Map(items.map((t) => [t.id, t]));

/**
 * The previous snapshot indexed once by source object (looked up per invalid object, so a
 * world of 10,000 routes never pays a scan per lookup).
 */
interface Index {
  pools: Map<string, SnapshotPool>;
  rulesByRoute: Map<string, SnapshotRule[]>;
  matchesByRule: Map<string, { hostname: string; match: SnapshotRouteMatch }[]>;
  rateLimitPolicies: Map<string, SnapshotRateLimitPolicy>;
  authzPolicies: Map<string, SnapshotAuthzPolicy>;
  /** Policy id → the rules it was attached to (rate-limit and authz ids never collide per kind). */
  rateLimitRules: Map<string, string[]>;
  authzRules: Map<string, string[]>;
  apiKeys: Map<string, SnapshotApiKey>;
}

function indexOf(previous: Snapshot): Index {
  const rateLimitRules = new Map<string, string[]>();
  const authzRules = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, k: string, v: string) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const r of previous.rules) {
    for (const p of r.rateLimitPolicies) push(rateLimitRules, p, r.id);
    if (r.authzPolicy) push(authzRules, r.authzPolicy, r.id);
  }
  const matchesByRule = new Map<string, { hostname: string; match: SnapshotRouteMatch }[]>();
  for (const v of previous.virtualHosts) {
    for (const match of v.routes) {
      const list = matchesByRule.get(match.rule);
      if (list) list.push({ hostname: v.hostname, match });
      else matchesByRule.set(match.rule, [{ hostname: v.hostname, match }]);
    }
  }
  return {
    pools: byId(previous.pools),
    rulesByRoute: group(previous.rules, routeKey),
    matchesByRule,
    rateLimitPolicies: byId(previous.rateLimitPolicies),
    authzPolicies: byId(previous.authzPolicies),
    rateLimitRules,
    authzRules,
    apiKeys: byId(previous.apiKeys.keys),
  };
}

const idOf = (obj: KubeObject) => `${namespaceOf(obj)}/${obj.metadata.name}`;

export class LastGood {
  readonly #previous: Snapshot | undefined;
  #index: Index | undefined;

  constructor(previous: Snapshot | undefined) {
    this.#previous = previous;
  }

  get #at(): Index | undefined {
    if (!this.#previous) return undefined;
    this.#index ??= indexOf(this.#previous);
    return this.#index;
  }

  /** The generation the previous snapshot served, when the object had one (clusters do; files do not). */
  generation(obj: KubeObject): number | undefined {
    return this.#previous?.generations?.[`${obj.kind}/${idOf(obj)}`];
  }

  /**
   * The namespaces whose rules the previous snapshot served on host names `covers` accepts:
   * who keeps a host name whose HostnameOwnership became invalid. A scan of the previous
   * hosts, paid only for invalid HostnameOwnerships.
   */
  namespacesServedOn(covers: (hostname: string) => boolean): Set<string> {
    const out = new Set<string>();
    const rules = new Map((this.#previous?.rules ?? []).map((r) => [r.id, r.route.namespace]));
    for (const v of this.#previous?.virtualHosts ?? []) {
      if (!covers(v.hostname)) continue;
      for (const m of v.routes) {
        const ns = rules.get(m.rule);
        if (ns !== undefined) out.add(ns);
      }
    }
    return out;
  }

  pool(obj: KubeObject): SnapshotPool | undefined {
    return this.#at?.pools.get(idOf(obj));
  }

  route(obj: KubeObject): LastGoodRoute | undefined {
    const at = this.#at;
    const rules = at?.rulesByRoute.get(idOf(obj));
    // A route that only ever had refusing placeholders was never good.
    if (!at || !rules || rules.some((r) => r.refuse?.invalidRoute)) return undefined;
    return { rules, matches: rules.flatMap((r) => at.matchesByRule.get(r.id) ?? []) };
  }

  rateLimitPolicy(obj: KubeObject): LastGoodPolicy<SnapshotRateLimitPolicy> | undefined {
    const id = idOf(obj);
    const policy = this.#at?.rateLimitPolicies.get(id);
    return policy && { policy, ruleIds: this.#at?.rateLimitRules.get(id) ?? [] };
  }

  authzPolicy(obj: KubeObject): LastGoodPolicy<SnapshotAuthzPolicy> | undefined {
    const id = idOf(obj);
    const policy = this.#at?.authzPolicies.get(id);
    return policy && { policy, ruleIds: this.#at?.authzRules.get(id) ?? [] };
  }

  /** The key's last entry, when the previous snapshot hashed keys with the same hash key. */
  apiKey(obj: KubeObject, hashKeyId: string): SnapshotApiKey | undefined {
    if (this.#previous?.apiKeys.hashKeyId !== hashKeyId) return undefined;
    return this.#at?.apiKeys.get(idOf(obj));
  }
}
