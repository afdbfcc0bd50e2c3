// A snapshot turned into the objects requests run on: the router, the rules and the
// backend pools. Immutable once built; the gateway swaps one reference to move to the
// next snapshot, so in-flight requests finish on the objects they started with.
// The runtime keeps only what requests use, not the snapshot itself: with 10,000 routes
// and keys the parsed snapshot is ~10 MB of heap that would otherwise stay alive (and the
// heap V8 lets grow before it collects grows with what is alive).

import type { Snapshot, SnapshotPool, SnapshotRateLimitPolicy } from "../../../core/api/snapshot/schema.ts";
import { type AuthRuntime, type AuthRuntimeOptions, buildAuthRuntime } from "../auth/auth-runtime.ts";
import { BackendPoolRuntime, type PoolEvent, poolConfigKey } from "../upstream/backend-pool.ts";
import { Router } from "./router.ts";
import { buildRule, GATEWAY_HEADERS, type RuleRuntime } from "./rule-runtime.ts";

export interface GatewayRuntime {
  /** The snapshot's version (its content hash). */
  readonly version: string;
  readonly router: Router<RuleRuntime>;
  readonly pools: ReadonlyMap<string, BackendPoolRuntime>;
  readonly auth: AuthRuntime;
  /** RateLimitPolicies by id (the admin endpoint looks rules up here). */
  readonly rateLimits: ReadonlyMap<string, SnapshotRateLimitPolicy>;
}

export interface RuntimeOptions {
  onPoolEvent?: (pool: string, e: PoolEvent) => void;
  /** hashKey must be this gateway's SLUICE_API_KEY_HASH_KEY. */
  auth: AuthRuntimeOptions;
  /** A pool as this process builds it (a --workers worker divides its circuit breaker). */
  adjustPool?: (pool: SnapshotPool) => SnapshotPool;
}

/**
 * Builds the runtime for a snapshot. Pools whose configuration is unchanged since
 * `previous` are taken over as they are (connections, health and ejections kept).
 * Throws when the snapshot cannot be built (the loader then keeps the previous one).
 */
export function buildRuntime(
  snapshot: Snapshot,
  previous: GatewayRuntime | undefined,
  options: RuntimeOptions,
): GatewayRuntime {
  const { onPoolEvent } = options;
  const pools = new Map<string, BackendPoolRuntime>();
  const created: BackendPoolRuntime[] = [];
  try {
    for (const published of snapshot.pools) {
      const config = options.adjustPool?.(published) ?? published;
      const old = previous?.pools.get(config.id);
      if (old && !old.closed && old.configKey === poolConfigKey(config)) {
        pools.set(config.id, old);
        continue;
      }
      const pool = new BackendPoolRuntime(config, (e) => onPoolEvent?.(config.id, e));
      created.push(pool);
      pools.set(config.id, pool);
    }
    const auth = buildAuthRuntime(snapshot, options.auth, previous?.auth);
    const dropHeaders =
      auth.identityHeaders.size === 0
        ? GATEWAY_HEADERS
        : new Set([...GATEWAY_HEADERS, ...auth.identityHeaders]);
    const rateLimits = new Map(snapshot.rateLimitPolicies.map((p) => [p.id, p]));
    const rules = new Map<string, RuleRuntime>();
    for (const rule of snapshot.rules)
      rules.set(
        rule.id,
        buildRule(rule, pools, dropHeaders, (id) => auth.policy(id), rateLimits),
      );
    const router = new Router(snapshot.virtualHosts, (id) => rules.get(id));
    return { version: snapshot.version, router, pools, auth, rateLimits };
  } catch (err) {
    for (const p of created) void p.close();
    throw err;
  }
}

/** Closes the pools of `old` that `next` did not take over, once their requests end. */
export async function retire(old: GatewayRuntime, next: GatewayRuntime | undefined) {
  const kept = new Set(next ? [...next.pools.values()] : []);
  const retired = [...old.pools.values()].filter((p) => !kept.has(p));
  for (const p of retired) p.successor = next?.pools.get(p.id);
  await Promise.all(retired.map((p) => p.close()));
}
