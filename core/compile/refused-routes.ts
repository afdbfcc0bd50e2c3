// A route that is invalid and has never been served, but that policies protect: its
// paths must not fall through to a less specific route with less protection. What can be
// read of its matches is served as rules that only refuse (503 policy-invalid). A match
// part that cannot be read is widened, never narrowed: a header condition that does not
// parse is dropped (the match catches more), and a path regex that does not compile
// becomes a match of everything that starts with its literal beginning.

import type { KubeObject } from "../api/common.ts";
import type { SnapshotRouteMatch, SnapshotRule } from "../api/snapshot/schema.ts";
import { namespaceOf } from "./status-book.ts";

type Match = Omit<SnapshotRouteMatch, "rule">;
const PATH_TYPES = new Set(["Exact", "PathPrefix", "RegularExpression"]);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The literal start of a pattern, up to its first special character (at least "/x"). */
function literalPrefix(pattern: string): string | undefined {
  const head = /^\^?(\/[^\\^$.|?*+()[\]{}]*)/.exec(pattern)?.[1];
  return head && head.length > 1 ? head : undefined;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function readMatch(raw: unknown, regexOk: (p: string) => boolean): Match | undefined {
  const m = isRecord(raw) ? raw : {};
  const path = isRecord(m.path) ? m.path : {};
  const type = typeof path.type === "string" ? path.type : "PathPrefix";
  const value = typeof path.value === "string" ? path.value : "/";
  let readPath: Match["path"] | undefined;
  if (PATH_TYPES.has(type) && (type !== "RegularExpression" || regexOk(value)) && value.startsWith("/"))
    readPath = { type: type as Match["path"]["type"], value };
  else if (type === "RegularExpression") {
    // Everything that starts the way the pattern starts: wider than what it meant.
    const prefix = literalPrefix(value);
    if (!prefix) return undefined;
    readPath = { type: "RegularExpression", value: `${escapeRegex(prefix)}.*` };
  } else if (value.startsWith("/")) readPath = { type: "PathPrefix", value };
  else return undefined;
  const values = (v: unknown, lower: boolean) =>
    list(v)
      .filter(
        (h): h is { type?: string; name: string; value: string } =>
          isRecord(h) &&
          typeof h.name === "string" &&
          typeof h.value === "string" &&
          (h.type === undefined ||
            h.type === "Exact" ||
            (h.type === "RegularExpression" && regexOk(h.value))),
      )
      .map((h) => ({
        type: (h.type ?? "Exact") as "Exact" | "RegularExpression",
        name: lower ? h.name.toLowerCase() : h.name,
        value: h.value,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const method = typeof m.method === "string" && /^[A-Z]+$/.test(m.method) ? m.method : undefined;
  return {
    path: readPath,
    ...(method ? { method } : {}),
    headers: values(m.headers, true),
    queryParams: values(m.queryParams, false),
  };
}

export interface RefusedRoute {
  rules: SnapshotRule[];
  matches: { hostname: string; match: SnapshotRouteMatch; rule: number; index: number }[];
}

/** Refusing rules for what can be read of an invalid route's matches. */
export function refusedRoute(
  route: KubeObject,
  policyIds: readonly string[],
  regexOk: (p: string) => boolean,
): RefusedRoute {
  const namespace = namespaceOf(route);
  const spec = isRecord(route.spec) ? route.spec : {};
  const hostnames = list(spec.hostnames).filter((h): h is string => typeof h === "string" && h !== "");
  const out: RefusedRoute = { rules: [], matches: [] };
  for (const [r, rawRule] of list(spec.rules).entries()) {
    const rule = isRecord(rawRule) ? rawRule : {};
    const id = `${namespace}/${route.metadata.name}/${r}`;
    const rawMatches = list(rule.matches).length > 0 ? list(rule.matches) : [{}];
    const matches = rawMatches.map((m) => readMatch(m, regexOk));
    if (!matches.some((m) => m !== undefined)) continue;
    out.rules.push({
      id,
      route: { namespace, name: route.metadata.name },
      index: r,
      ...(typeof rule.name === "string" ? { name: rule.name } : {}),
      filters: [],
      backends: [],
      timeouts: {},
      rateLimitPolicies: [],
      refuse: { policies: [...policyIds], invalidRoute: true },
    });
    for (const hostname of hostnames.length > 0 ? hostnames : ["*"]) {
      for (const [m, match] of matches.entries()) {
        if (match)
          out.matches.push({
            hostname,
            match: { rule: id, ...match } as SnapshotRouteMatch,
            rule: r,
            index: m,
          });
      }
    }
  }
  return out;
}
