// compileSnapshot: every resource in, one snapshot and every object's status out.
// Pure — no I/O, no clock, no randomness — so the same input gives the same snapshot,
// byte for byte, whatever the order of the objects. It never throws on user input:
// a bad object gets conditions naming the field and is left out; the rest compiles.
//
//   index (schema + defaults) → budgets → pools → routes (ReferenceGrants) → host names
//   (listeners admit namespaces) → virtual hosts (precedence, conflicts)
//   → rate-limit and authz policies attached to rules → API key hashes → version

import { hashKeyId } from "../api/snapshot/api-key-hash.ts";
import { SNAPSHOT_API_VERSION, type Snapshot } from "../api/snapshot/schema.ts";
import { withVersion } from "../api/snapshot/version.ts";
import { compileApiKeys } from "./api-keys.ts";
import { compileBackendPools } from "./backend-pools.ts";
import { applyBudgets, type Budgets } from "./budgets.ts";
import { admitHostnames, HostnameAdmission } from "./hostname-admission.ts";
import { LastGood } from "./last-good.ts";
import { ownershipListeners } from "./listeners.ts";
import { ObjectIndex } from "./object-index.ts";
import { attachAuthzPolicies, attachRateLimitPolicies } from "./policies.ts";
import { ReferenceGrants } from "./reference-grants.ts";
import { compileRoutes } from "./routes.ts";
import { type ObjectStatus, StatusBook } from "./status-book.ts";
import { buildVirtualHosts } from "./virtual-hosts.ts";

export interface CompileOptions {
  /** The installation's secret for hashing API keys (HMAC-SHA256); gateways hash presented keys with it. */
  apiKeyHashKey: string;
  /** The snapshot served until now: where an object that became invalid finds its last good version. */
  previous?: Snapshot;
  /** Size budgets per object and per namespace; unset ones keep their defaults (budgets.ts). */
  budgets?: Partial<Budgets>;
  /** Refuse route host names no HostnameOwnership listener covers (default: only owned ones are checked). */
  requireHostnameOwnership?: boolean;
}

export interface CompileResult {
  snapshot: Snapshot;
  statuses: ObjectStatus[];
  /**
   * The core objects compile read, found or not ("Secret/ns/name", "Service/ns/name",
   * "EndpointSlice/ns/<service>"), sorted: the operator recompiles only when one of these
   * or one of the sluice objects changes, and holds only these Secrets' data.
   */
  references: string[];
}

/**
 * @param objects Sluice resources plus the objects they refer to (Secrets, Services,
 *   EndpointSlices, ReferenceGrants), in any order. Other objects are ignored.
 */
export function compileSnapshot(objects: readonly unknown[], options: CompileOptions): CompileResult {
  const status = new StatusBook();
  const index = new ObjectIndex(objects, status);
  applyBudgets(index, status, options.budgets);
  const lastGood = new LastGood(options.previous);

  const pools = compileBackendPools(index, status, lastGood);
  const routes = compileRoutes(index, status, pools, new ReferenceGrants(index), lastGood);
  const listeners = ownershipListeners(index, status, lastGood);
  const admission = new HostnameAdmission(listeners, options.requireHostnameOwnership === true);
  const { virtualHosts } = buildVirtualHosts(admitHostnames(routes.matches, admission, status), status);
  const rateLimitPolicies = attachRateLimitPolicies(index, status, routes.routes, routes.rules, lastGood);
  const authzPolicies = attachAuthzPolicies(index, status, routes.routes, routes.rules, lastGood);
  const apiKeys = compileApiKeys(index, status, options.apiKeyHashKey, lastGood);
  const generations = status.generations();

  // Only rules some host still routes to are served; fully shadowed ones are left out.
  const served = new Set(virtualHosts.flatMap((v) => v.routes.map((r) => r.rule)));
  const snapshot = withVersion({
    apiVersion: SNAPSHOT_API_VERSION,
    virtualHosts,
    rules: [...routes.rules.values()].filter((r) => served.has(r.id)).sort((a, b) => (a.id < b.id ? -1 : 1)),
    pools: [...pools.values()],
    rateLimitPolicies,
    authzPolicies,
    ...(Object.keys(generations).length > 0 ? { generations } : {}),
    apiKeys: { hashKeyId: hashKeyId(options.apiKeyHashKey), keys: apiKeys },
  });
  return { snapshot, statuses: status.list(), references: [...index.references].sort() };
}
