// The router: from (host, normalised path, method, headers, query) to a rule. Built once
// per snapshot; a lookup costs a hash lookup per host candidate plus a walk down the path's
// segments, whatever the number of routes. Only RegularExpression paths are tried one by
// one (they cannot be indexed), and only on hosts that have them. Every user pattern runs
// in linear time (linear-regex.ts), so no path, header or query value can stall the loop.
//
// Precedence is the snapshot's order (compile sorted each host's matches the Gateway API
// way: Exact, then RegularExpression, then the longest PathPrefix; then method, headers,
// query params, route age). Within each index we keep that order, and we consult the
// indexes in the same order, so the first hit is the one precedence picks.
import type { IncomingHttpHeaders } from "node:http";
import { compileLinearRegex } from "../../../core/api/linear-regex.ts";
import type { SnapshotRouteMatch } from "../../../core/api/snapshot/schema.ts";

interface ValueMatcher {
  name: string;
  test(value: string): boolean;
}

interface Entry<R> {
  rule: R;
  method: string | undefined;
  headers: ValueMatcher[];
  query: ValueMatcher[];
  /** For PathPrefix entries: the prefix as written (without a trailing slash). */
  prefix: string | undefined;
  regex: RegExp | undefined;
}

interface PrefixNode<R> {
  children: Map<string, PrefixNode<R>>;
  entries: Entry<R>[];
}

interface HostTable<R> {
  exact: Map<string, Entry<R>[]>;
  regex: Entry<R>[];
  prefix: PrefixNode<R>;
}

export interface RouteHit<R> {
  rule: R;
  /** The PathPrefix that matched (for ReplacePrefixMatch rewrites), else undefined. */
  prefix: string | undefined;
}

/** What the router needs to know of a request; query is "" or starts with "?". */
export interface RouteRequest {
  host: string;
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  query: string;
}

function valueMatcher(m: SnapshotRouteMatch["headers"][number]): ValueMatcher {
  if (m.type === "Exact") return { name: m.name, test: (v) => v === m.value };
  const re = compileLinearRegex(m.value);
  return { name: m.name, test: (v) => re.test(v) };
}

function newNode<R>(): PrefixNode<R> {
  return { children: new Map(), entries: [] };
}

function segments(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

function conditionsHold<R>(e: Entry<R>, req: RouteRequest, query: () => URLSearchParams): boolean {
  if (e.method !== undefined && e.method !== req.method) return false;
  for (const h of e.headers) {
    const v = headerValue(req.headers, h.name);
    if (v === undefined || !h.test(v)) return false;
  }
  if (e.query.length > 0) {
    const params = query();
    for (const q of e.query) {
      const v = params.get(q.name);
      if (v === null || !q.test(v)) return false;
    }
  }
  return true;
}

/** Host of the request, lower-cased, without port or trailing dot. */
export function routeHost(hostHeader: string | undefined): string {
  if (!hostHeader) return "";
  let host = hostHeader;
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    host = end > 0 ? host.slice(0, end + 1) : host;
  } else {
    const colon = host.indexOf(":");
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  return host.toLowerCase();
}

export class Router<R> {
  readonly #hosts = new Map<string, HostTable<R>>();
  readonly #wildcards: boolean;

  /**
   * @param virtualHosts the snapshot's hosts with their matches in precedence order
   * @param ruleFor resolves a match's rule id to the runtime rule
   */
  constructor(
    virtualHosts: { hostname: string; routes: SnapshotRouteMatch[] }[],
    ruleFor: (id: string) => R | undefined,
  ) {
    let wildcards = false;
    for (const vhost of virtualHosts) {
      if (vhost.hostname.startsWith("*")) wildcards = true;
      const table: HostTable<R> = { exact: new Map(), regex: [], prefix: newNode() };
      for (const m of vhost.routes) {
        const rule = ruleFor(m.rule);
        if (rule === undefined) continue;
        const entry: Entry<R> = {
          rule,
          method: m.method,
          headers: m.headers.map(valueMatcher),
          query: m.queryParams.map(valueMatcher),
          prefix: undefined,
          regex: undefined,
        };
        if (m.path.type === "Exact") {
          const list = table.exact.get(m.path.value) ?? [];
          list.push(entry);
          table.exact.set(m.path.value, list);
        } else if (m.path.type === "RegularExpression") {
          entry.regex = compileLinearRegex(m.path.value);
          table.regex.push(entry);
        } else {
          let node = table.prefix;
          const segs = segments(m.path.value);
          for (const s of segs) {
            const child = node.children.get(s) ?? newNode<R>();
            node.children.set(s, child);
            node = child;
          }
          entry.prefix = segs.length === 0 ? "" : `/${segs.join("/")}`;
          node.entries.push(entry);
        }
      }
      this.#hosts.set(vhost.hostname, table);
    }
    this.#wildcards = wildcards;
  }

  /** The rule for the request, or undefined (404). */
  match(req: RouteRequest): RouteHit<R> | undefined {
    let params: URLSearchParams | undefined;
    const query = () => {
      params ??= new URLSearchParams(req.query);
      return params;
    };
    const host = req.host;
    // Most specific host first; a host without a matching route falls through to
    // wildcards and then to routes without hostnames (Gateway API precedence).
    const exact = this.#hosts.get(host);
    if (exact) {
      const hit = this.#matchIn(exact, req, query);
      if (hit) return hit;
    }
    if (this.#wildcards) {
      for (let dot = host.indexOf("."); dot >= 0; dot = host.indexOf(".", dot + 1)) {
        const table = this.#hosts.get(`*${host.slice(dot)}`);
        if (!table) continue;
        const hit = this.#matchIn(table, req, query);
        if (hit) return hit;
      }
    }
    const any = this.#hosts.get("*");
    return any ? this.#matchIn(any, req, query) : undefined;
  }

  #matchIn(table: HostTable<R>, req: RouteRequest, query: () => URLSearchParams): RouteHit<R> | undefined {
    const exact = table.exact.get(req.path);
    if (exact) {
      for (const e of exact) if (conditionsHold(e, req, query)) return { rule: e.rule, prefix: undefined };
    }
    for (const e of table.regex) {
      if (e.regex?.test(req.path) && conditionsHold(e, req, query))
        return { rule: e.rule, prefix: undefined };
    }
    // Walk down the path's segments, remembering every node on the way; the deepest
    // node with a matching entry is the longest prefix.
    const trail: PrefixNode<R>[] = [table.prefix];
    let node: PrefixNode<R> | undefined = table.prefix;
    const path = req.path;
    let start = 1;
    while (node && start < path.length) {
      let end = path.indexOf("/", start);
      if (end < 0) end = path.length;
      if (end > start) {
        node = node.children.get(path.slice(start, end));
        if (node) trail.push(node);
      }
      start = end + 1;
    }
    for (let i = trail.length - 1; i >= 0; i--) {
      for (const e of (trail[i] as PrefixNode<R>).entries) {
        if (conditionsHold(e, req, query)) return { rule: e.rule, prefix: e.prefix };
      }
    }
    return undefined;
  }
}
