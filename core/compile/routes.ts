// GatewayRoutes → snapshot rules (what happens) and host/match entries (what matches).
// Precedence and conflicts between routes are settled in virtual-hosts.ts.

import { GROUP, type KubeObject } from "../api/common.ts";
import type { GatewayRouteFilter, GatewayRouteMatch, GatewayRouteSpec } from "../api/gateway-route.ts";
import { linearRegexProblem } from "../api/linear-regex.ts";
import type {
  SnapshotFilter,
  SnapshotPool,
  SnapshotRouteMatch,
  SnapshotRule,
} from "../api/snapshot/schema.ts";
import { durationMs } from "./durations.ts";
import type { LastGood } from "./last-good.ts";
import type { ObjectIndex } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import type { ReferenceGrants } from "./reference-grants.ts";
import { refusedRoute } from "./refused-routes.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";
import { policiesNaming } from "./target-refs.ts";

/** A match of one route rule on one host name, before precedence is applied. */
export interface HostMatch {
  hostname: string;
  match: SnapshotRouteMatch;
  route: KubeObject<GatewayRouteSpec>;
  /** Rule and match index within the route: the last tie-break, and the field path in messages. */
  rule: number;
  index: number;
}

/** A route policies can target: accepted, or served at its last good version. */
export interface TargetableRoute {
  object: KubeObject;
  /** Every served rule's id, and its name (for targetRefs with a sectionName). */
  rules: { id: string; name: string | undefined }[];
}

export interface CompiledRoutes {
  rules: Map<string, SnapshotRule>;
  matches: HostMatch[];
  /** Routes by "namespace/name", for policy attachment. */
  routes: Map<string, TargetableRoute>;
}

/**
 * A regular expression the gateway will accept: valid ECMAScript, and runnable by V8's
 * linear-time engine (no backreferences or lookahead), so no request can stall the
 * event loop (gateway/src/runtime/linear-regex.ts).
 */
function regexProblem(pattern: string): string | undefined {
  return linearRegexProblem(pattern);
}

function invalidRegex(spec: GatewayRouteSpec): string | undefined {
  for (const [r, rule] of spec.rules.entries()) {
    for (const [m, match] of (rule.matches ?? []).entries()) {
      const at = `spec.rules[${r}].matches[${m}]`;
      if (match.path?.type === "RegularExpression") {
        const p = regexProblem(match.path.value);
        if (p) return `${at}.path.value: invalid regular expression: ${p}`;
      }
      for (const [list, entries] of [
        ["headers", match.headers],
        ["queryParams", match.queryParams],
      ] as const) {
        for (const [i, h] of (entries ?? []).entries()) {
          const p = h.type === "RegularExpression" ? regexProblem(h.value) : undefined;
          if (p) return `${at}.${list}[${i}].value: invalid regular expression: ${p}`;
        }
      }
    }
  }
  return undefined;
}

function toMatch(rule: string, m: GatewayRouteMatch): SnapshotRouteMatch {
  const values = (list: typeof m.headers, lower: boolean) =>
    (list ?? [])
      .map((h) => ({ type: h.type, name: lower ? h.name.toLowerCase() : h.name, value: h.value }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    rule,
    path: { type: m.path?.type ?? "PathPrefix", value: m.path?.value ?? "/" },
    ...(m.method ? { method: m.method } : {}),
    headers: values(m.headers, true),
    queryParams: values(m.queryParams, false),
  } as SnapshotRouteMatch;
}

function toFilter(f: GatewayRouteFilter): SnapshotFilter {
  const headers = (h: GatewayRouteFilter["requestHeaderModifier"]) => ({
    set: h?.set ?? [],
    add: h?.add ?? [],
    remove: h?.remove ?? [],
  });
  switch (f.type) {
    case "RequestHeaderModifier":
      return { type: f.type, ...headers(f.requestHeaderModifier) };
    case "ResponseHeaderModifier":
      return { type: f.type, ...headers(f.responseHeaderModifier) };
    case "URLRewrite": {
      const p = f.urlRewrite?.path;
      return {
        type: f.type,
        ...(f.urlRewrite?.hostname ? { hostname: f.urlRewrite.hostname } : {}),
        ...(p
          ? {
              path: {
                type: p.type,
                value: (p.type === "ReplaceFullPath" ? p.replaceFullPath : p.replacePrefixMatch) ?? "/",
              },
            }
          : {}),
      };
    }
    case "RequestRedirect":
      return { type: f.type, ...f.requestRedirect, statusCode: f.requestRedirect?.statusCode ?? 302 };
    case "CORS": {
      const c = f.cors;
      return {
        type: f.type,
        allowOrigins: c?.allowOrigins ?? [],
        allowMethods: c?.allowMethods ?? [],
        allowHeaders: c?.allowHeaders ?? [],
        exposeHeaders: c?.exposeHeaders ?? [],
        allowCredentials: c?.allowCredentials ?? false,
        ...(c?.maxAge ? { maxAgeSeconds: Math.floor(durationMs(c.maxAge) / 1000) } : {}),
      };
    }
    case "ResponseSecurityHeaders":
      return { type: f.type, ...f.responseSecurityHeaders };
  }
}

export function ruleId(namespace: string, route: string, index: number): string {
  return `${namespace}/${route}/${index}`;
}

/** Whether routes in `namespace` may send traffic to the pool `poolId` ("namespace/name"). */
function poolPermitted(grants: ReferenceGrants, namespace: string, poolId: string): boolean {
  const slash = poolId.indexOf("/");
  return grants.permits(
    { group: GROUP, kind: "GatewayRoute", namespace },
    { group: GROUP, kind: "BackendPool", namespace: poolId.slice(0, slash), name: poolId.slice(slash + 1) },
  );
}

/**
 * An invalid route that was served before keeps its last good rules and matches, so its
 * paths never fall through to a less specific route. Policies attach to it as to any
 * route; its backends follow the pools and the ReferenceGrants as they are now.
 */
function keepLastGood(
  route: KubeObject,
  index: ObjectIndex,
  status: StatusBook,
  pools: Map<string, SnapshotPool>,
  grants: ReferenceGrants,
  lastGood: LastGood,
  out: CompiledRoutes,
) {
  const namespace = namespaceOf(route);
  const kept = lastGood.route(route);
  if (!kept) {
    refuseIfProtected(route, index, status, out);
    return;
  }
  for (const rule of kept.rules) {
    const { authzPolicy: _a, refuse: _r, ...rest } = rule;
    out.rules.set(rule.id, {
      ...rest,
      backends: rule.backends.map((b) => ({
        pool: b.pool && pools.has(b.pool) && poolPermitted(grants, namespace, b.pool) ? b.pool : null,
        weight: b.weight,
      })),
      rateLimitPolicies: [],
    });
  }
  const indexOf = new Map(kept.rules.map((r) => [r.id, r.index]));
  const seen = new Map<string, number>();
  for (const { hostname, match } of kept.matches) {
    const n = seen.get(`${hostname} ${match.rule}`) ?? 0;
    seen.set(`${hostname} ${match.rule}`, n + 1);
    out.matches.push({
      hostname,
      match,
      route: route as KubeObject<GatewayRouteSpec>,
      rule: indexOf.get(match.rule) ?? 0,
      index: n,
    });
  }
  out.routes.set(`${namespace}/${route.metadata.name}`, {
    object: route,
    rules: kept.rules.map((r) => ({ id: r.id, name: r.name })),
  });
  status.servingLastGood(route, lastGood.generation(route));
}

/**
 * An invalid route with no good version is not served — unless a policy protects it: then
 * what can be read of its matches refuses traffic, so its paths do not fall through to a
 * less specific route the policy does not protect.
 */
function refuseIfProtected(route: KubeObject, index: ObjectIndex, status: StatusBook, out: CompiledRoutes) {
  const policies = policiesNaming(index, route);
  if (policies.length === 0) return;
  const refused = refusedRoute(route, policies, (p) => regexProblem(p) === undefined);
  for (const rule of refused.rules) out.rules.set(rule.id, rule);
  for (const m of refused.matches) out.matches.push({ ...m, route: route as KubeObject<GatewayRouteSpec> });
  out.routes.set(`${namespaceOf(route)}/${route.metadata.name}`, {
    object: route,
    rules: refused.rules.map((r) => ({ id: r.id, name: r.name })),
  });
  status.failedClosed(
    route,
    refused.rules.map((r) => r.id),
    `No valid version to keep, and ${policies.join(", ")} protect${policies.length === 1 ? "s" : ""} it`,
  );
}

/**
 * Compiles every valid GatewayRoute; unresolvable backendRefs stay as pool: null (their
 * share gets 500). An invalid route keeps its last good version when it has one.
 */
export function compileRoutes(
  index: ObjectIndex,
  status: StatusBook,
  pools: Map<string, SnapshotPool>,
  grants: ReferenceGrants,
  lastGood: LastGood,
): CompiledRoutes {
  const out: CompiledRoutes = { rules: new Map(), matches: [], routes: new Map() };
  for (const route of index.rejected("GatewayRoute"))
    keepLastGood(route, index, status, pools, grants, lastGood, out);
  for (const route of index.list<GatewayRouteSpec>("GatewayRoute")) {
    const spec = route.spec as GatewayRouteSpec;
    const problem = invalidRegex(spec);
    if (problem) {
      status.invalid(route, problem);
      keepLastGood(route, index, status, pools, grants, lastGood, out);
      continue;
    }
    const namespace = namespaceOf(route);
    out.routes.set(`${namespace}/${route.metadata.name}`, {
      object: route,
      rules: spec.rules.map((r, i) => ({ id: ruleId(namespace, route.metadata.name, i), name: r.name })),
    });
    status.served(route);
    const unresolved: string[] = [];
    let reason: Reason = Reason.ResolvedRefs;
    for (const [r, rule] of spec.rules.entries()) {
      const id = ruleId(namespace, route.metadata.name, r);
      const backends = (rule.backendRefs ?? []).map((ref, b) => {
        const field = `spec.rules[${r}].backendRefs[${b}]`;
        const poolNamespace = ref.namespace ?? namespace;
        const poolId = `${poolNamespace}/${ref.name}`;
        if (!poolPermitted(grants, namespace, poolId)) {
          reason = Reason.RefNotPermitted;
          unresolved.push(
            `${field}.namespace: BackendPool "${ref.name}" is in namespace "${poolNamespace}", and no ReferenceGrant there permits GatewayRoutes in "${namespace}" to refer to it`,
          );
          return { pool: null, weight: ref.weight };
        }
        if (!pools.has(poolId)) {
          if (reason === Reason.ResolvedRefs) reason = Reason.BackendNotFound;
          unresolved.push(
            `${field}.name: BackendPool "${ref.name}" not found (or not accepted) in namespace "${poolNamespace}"`,
          );
          return { pool: null, weight: ref.weight };
        }
        return { pool: poolId, weight: ref.weight };
      });
      const { timeouts, retry } = rule;
      out.rules.set(id, {
        id,
        route: { namespace, name: route.metadata.name },
        index: r,
        ...(rule.name ? { name: rule.name } : {}),
        filters: (rule.filters ?? []).map(toFilter),
        backends,
        timeouts: {
          ...(timeouts?.request ? { requestMs: durationMs(timeouts.request) } : {}),
          ...(timeouts?.backendRequest ? { backendRequestMs: durationMs(timeouts.backendRequest) } : {}),
        },
        ...(retry && {
          retry: {
            attempts: retry.attempts,
            retryOn: [...(retry.retryOn ?? ["connect-failure", "reset"])].sort(),
            baseMs: durationMs(retry.backoff?.base ?? "25ms"),
            maxMs: durationMs(retry.backoff?.max ?? "250ms"),
          },
        }),
        rateLimitPolicies: [],
      });
      const hostnames = spec.hostnames && spec.hostnames.length > 0 ? spec.hostnames : ["*"];
      const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
      for (const hostname of hostnames) {
        for (const [m, match] of matches.entries()) {
          out.matches.push({ hostname, match: toMatch(id, match), route, rule: r, index: m });
        }
      }
    }
    status.set(route, "Accepted", true, Reason.Accepted, "The route is valid.");
    status.setBackends(
      route,
      spec.rules.flatMap((r) =>
        (r.backendRefs ?? []).map((b) =>
          b.namespace && b.namespace !== namespace ? `${b.namespace}/${b.name}` : b.name,
        ),
      ),
    );
    if (unresolved.length > 0) {
      status.set(
        route,
        "ResolvedRefs",
        false,
        reason,
        `${unresolved.join("; ")}; requests for these backends get 500.`,
      );
    } else {
      status.set(route, "ResolvedRefs", true, Reason.ResolvedRefs, "All backendRefs resolved.");
    }
  }
  return out;
}
