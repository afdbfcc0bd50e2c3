// Orders every (host, match) by the Gateway API's precedence and settles conflicts:
// when two rules claim the same host and the same match, the older route wins
// (creationTimestamp, then namespace/name, then rule order) and the other is told why.

import type { KubeObject } from "../api/common.ts";
import type { GatewayRouteSpec } from "../api/gateway-route.ts";
import type { SnapshotRouteMatch } from "../api/snapshot/schema.ts";
import { olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import type { HostMatch } from "./routes.ts";
import { cmp, namespaceOf, type StatusBook } from "./status-book.ts";

const PATH_RANK = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/** Gateway API precedence: exact path, longest path, method, most headers, most query params, oldest route. */
export function byPrecedence(a: HostMatch, b: HostMatch): number {
  const x = a.match;
  const y = b.match;
  return (
    PATH_RANK[x.path.type] - PATH_RANK[y.path.type] ||
    y.path.value.length - x.path.value.length ||
    Number(y.method !== undefined) - Number(x.method !== undefined) ||
    y.headers.length - x.headers.length ||
    y.queryParams.length - x.queryParams.length ||
    olderFirst(a.route, b.route) ||
    a.rule - b.rule ||
    a.index - b.index ||
    cmp(x.path.value, y.path.value)
  );
}

/** Exact names first, then wildcards with more labels, then the catch-all "*". */
function byHostSpecificity(a: string, b: string): number {
  const rank = (h: string) => (h === "*" ? 2 : h.startsWith("*.") ? 1 : 0);
  return rank(a) - rank(b) || b.split(".").length - a.split(".").length || cmp(a, b);
}

const field = (m: HostMatch) => `spec.rules[${m.rule}].matches[${m.index}]`;
const routeName = (r: KubeObject) => `${namespaceOf(r)}/${r.metadata.name}`;

export function buildVirtualHosts(matches: HostMatch[], status: StatusBook) {
  const byHost = new Map<string, HostMatch[]>();
  for (const m of matches) {
    const list = byHost.get(m.hostname);
    if (list) list.push(m);
    else byHost.set(m.hostname, [m]);
  }
  const lost = new Map<KubeObject<GatewayRouteSpec>, string[]>();
  const kept = new Set<KubeObject<GatewayRouteSpec>>();
  const virtualHosts = [...byHost.keys()].sort(byHostSpecificity).map((hostname) => {
    const winners = new Map<string, HostMatch>();
    const routes: SnapshotRouteMatch[] = [];
    for (const m of (byHost.get(hostname) ?? []).sort(byPrecedence)) {
      const { rule: _rule, ...shape } = m.match;
      // toMatch builds every match with the same key order, so plain JSON is a stable key.
      const key = JSON.stringify(shape);
      const winner = winners.get(key);
      if (winner) {
        const why = `${field(m)} on host "${hostname}" is shadowed by ${field(winner)} of GatewayRoute ${routeName(winner.route)}, which is older or comes first`;
        lost.set(m.route, [...(lost.get(m.route) ?? []), why]);
        continue;
      }
      winners.set(key, m);
      kept.add(m.route);
      routes.push(m.match);
    }
    return { hostname, routes };
  });
  for (const [route, reasons] of lost) {
    status.conflict(route, Reason.MatchConflict, reasons.join("; "));
    if (!kept.has(route)) {
      status.set(
        route,
        "Accepted",
        false,
        Reason.Conflicted,
        "Every match of this route is claimed by an older route; see the Conflicted condition.",
      );
    }
  }
  return { virtualHosts, routesWithTraffic: kept };
}
