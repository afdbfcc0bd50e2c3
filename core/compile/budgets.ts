// Budgets: how much one object, and one namespace, may put into the snapshot that every
// gateway loads. Every tenant's objects share one snapshot, so its size, its compile time
// and the gateways' memory are shared too: without a budget one namespace's oversized
// objects (six valid ~250 KB GatewayRoutes once stopped publishing for everyone) slow or
// stop everyone. An object over budget is refused like an invalid one — Accepted=False
// with a message naming the budget, the measured value and how to raise it — so it keeps
// its last good version or fails closed (last-good.ts); everyone else keeps being served.
//
// What is measured is what a user can see and change: the spec as JSON (as `kubectl get
// -o json` shows it, defaults applied), and counts the schema cannot bound because they
// are products of its bounded lists (hostnames × matches; regular expressions per host).
// Per namespace the newest objects (creationTimestamp, then name: the conflict tie-break)
// are refused first, so an object that is served is never pushed out by a newer one.

import type { KubeObject } from "../api/common.ts";
import { ConfigInvalidError } from "../api/errors.ts";
import type { GatewayRouteSpec } from "../api/gateway-route.ts";
import { KINDS } from "../api/kinds.ts";
import { type ObjectIndex, olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";

export interface Budgets {
  /** Bytes of one object's spec as JSON, defaults applied. */
  objectBytes: number;
  /** Entries one GatewayRoute adds to the gateways' routing tables: hostnames × matches of all its rules. */
  routeMatches: number;
  /** Regular expressions (path, header, query) one GatewayRoute adds to those tables, once per hostname. */
  routeRegexes: number;
  /** Bytes of the specs of a namespace's Sluice objects together. */
  namespaceBytes: number;
  /** GatewayRoutes in one namespace. */
  namespaceRoutes: number;
  /** ApiKeys in one namespace. */
  namespaceApiKeys: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Twice what the largest world we benchmark puts in one namespace (bench/proxy/targets.ts,
 * sluice-10k: 10,000 routes and 10,000 keys, 2.1 MB of specs in namespace "bench"), so no
 * installation of the size we test is refused by upgrading; multi-tenant clusters should
 * lower the namespace budgets (docs/operator.md). The largest sample object is 1.2 KB;
 * 128 KiB leaves room for an AuthzPolicy with an inline JWKS at its schema limit (64 KiB).
 * The schema allows 16 hostnames × 64 rules × 16 matches = 16,384 table entries per route;
 * the default is an eighth of that.
 */
export const DEFAULT_BUDGETS: Readonly<Budgets> = {
  objectBytes: 128 * KiB,
  routeMatches: 2048,
  routeRegexes: 128,
  namespaceBytes: 8 * MiB,
  namespaceRoutes: 20_000,
  namespaceApiKeys: 20_000,
};

const NAMES = Object.keys(DEFAULT_BUDGETS) as (keyof Budgets)[];

/** How a budget is raised, for condition messages. */
const raise = (name: keyof Budgets) =>
  `raise it with the operator's --budgets ${name}=N (chart: operator.budgets.${name})`;

/**
 * `name=value,…` (the operator's --budgets flag) to budgets. Values are positive integers,
 * optionally with a Ki or Mi suffix (128Ki). Throws ConfigInvalidError naming the entry.
 */
export function parseBudgets(text: string): Partial<Budgets> {
  const out: Partial<Budgets> = {};
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue;
    const [name, raw = ""] = entry.split("=", 2).map((s) => s.trim()) as [string, string?];
    if (!NAMES.includes(name as keyof Budgets))
      throw new ConfigInvalidError(`--budgets: unknown budget "${name}" (known: ${NAMES.join(", ")})`);
    const m = /^([1-9][0-9]*)(Ki|Mi)?$/.exec(raw);
    const value = m ? Number(m[1]) * (m[2] === "Mi" ? MiB : m[2] === "Ki" ? KiB : 1) : Number.NaN;
    if (!Number.isSafeInteger(value))
      throw new ConfigInvalidError(
        `--budgets: ${name}="${raw}" must be a positive integer, optionally with Ki or Mi (128Ki)`,
      );
    out[name as keyof Budgets] = value;
  }
  return out;
}

/** Size of an object's spec as JSON, in bytes (UTF-8). */
export function specBytes(obj: KubeObject): number {
  return Buffer.byteLength(JSON.stringify(obj.spec ?? null), "utf8");
}

/** What a GatewayRoute adds to the routing tables: entries, and regular expressions among them. */
export function routeCounts(spec: GatewayRouteSpec): { matches: number; regexes: number } {
  const hosts = Math.max(spec.hostnames?.length ?? 0, 1);
  let matches = 0;
  let regexes = 0;
  for (const rule of spec.rules) {
    const list = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
    matches += list.length;
    for (const m of list) {
      if (m.path?.type === "RegularExpression") regexes++;
      for (const v of m.headers ?? []) if (v.type === "RegularExpression") regexes++;
      for (const v of m.queryParams ?? []) if (v.type === "RegularExpression") regexes++;
    }
  }
  return { matches: matches * hosts, regexes: regexes * hosts };
}

/** The first per-object budget the object is over, as a condition message, or undefined. */
function objectOverBudget(obj: KubeObject, bytes: number, b: Budgets): string | undefined {
  if (bytes > b.objectBytes)
    return `spec: ${bytes} bytes as JSON, over the objectBytes budget of ${b.objectBytes}; split the object, or ${raise("objectBytes")}`;
  if (obj.kind !== "GatewayRoute") return undefined;
  const spec = obj.spec as GatewayRouteSpec;
  const { matches, regexes } = routeCounts(spec);
  const hosts = Math.max(spec.hostnames?.length ?? 0, 1);
  const perHost = (n: number, what: string) =>
    hosts === 1 ? `${n} ${what}` : `${n} ${what}: ${hosts} hostnames × ${n / hosts}`;
  if (matches > b.routeMatches)
    return `spec.rules[*].matches: ${perHost(matches, "routing entries")}, over the routeMatches budget of ${b.routeMatches}; split the route, or ${raise("routeMatches")}`;
  if (regexes > b.routeRegexes)
    return `spec.rules[*].matches: ${perHost(regexes, "regular expressions")}, over the routeRegexes budget of ${b.routeRegexes}; use Exact or PathPrefix matches, split the route, or ${raise("routeRegexes")}`;
  return undefined;
}

interface Measured {
  obj: KubeObject;
  bytes: number;
}

/**
 * Refuses the objects over budget: each is moved to the index's rejected objects with an
 * Accepted=False condition, so the stages after it treat it as any object that is not
 * accepted (its last good version is served, or what it protects fails closed).
 */
export function applyBudgets(index: ObjectIndex, status: StatusBook, given: Partial<Budgets> = {}) {
  const set = Object.entries(given).filter(([, v]) => v !== undefined);
  const b: Budgets = { ...DEFAULT_BUDGETS, ...Object.fromEntries(set) };
  const byNamespace = new Map<
    string,
    { objects: Measured[]; bytes: number; routes: number; apiKeys: number }
  >();
  for (const { kind } of KINDS) {
    for (const obj of index.list(kind)) {
      const bytes = specBytes(obj);
      const over = objectOverBudget(obj, bytes, b);
      if (over) {
        status.set(obj, "Accepted", false, Reason.TooLarge, over);
        index.reject(obj);
        continue;
      }
      const ns = namespaceOf(obj);
      const n = byNamespace.get(ns) ?? { objects: [], bytes: 0, routes: 0, apiKeys: 0 };
      byNamespace.set(ns, n);
      n.objects.push({ obj, bytes });
      n.bytes += bytes;
      if (kind === "GatewayRoute") n.routes++;
      if (kind === "ApiKey") n.apiKeys++;
    }
  }
  for (const [ns, n] of byNamespace) {
    if (n.bytes <= b.namespaceBytes && n.routes <= b.namespaceRoutes && n.apiKeys <= b.namespaceApiKeys)
      continue;
    // Oldest first; once the bytes overflow, every newer object is refused (not only those
    // that would not fit): the refused are always the newest, whatever their sizes.
    let bytes = 0;
    let routes = 0;
    let apiKeys = 0;
    let overflowed = false;
    for (const { obj, bytes: size } of n.objects.sort((x, y) => olderFirst(x.obj, y.obj))) {
      const refuse = (message: string) => {
        status.set(obj, "Accepted", false, Reason.NamespaceBudgetExceeded, message);
        index.reject(obj);
      };
      const newest = "the newest objects (creationTimestamp, then name) are refused first";
      if (obj.kind === "GatewayRoute" && routes >= b.namespaceRoutes) {
        refuse(
          `namespace "${ns}" has ${n.routes} GatewayRoutes, over its namespaceRoutes budget of ${b.namespaceRoutes}; ${newest}. Delete routes in the namespace, or ${raise("namespaceRoutes")}`,
        );
        continue;
      }
      if (obj.kind === "ApiKey" && apiKeys >= b.namespaceApiKeys) {
        refuse(
          `namespace "${ns}" has ${n.apiKeys} ApiKeys, over its namespaceApiKeys budget of ${b.namespaceApiKeys}; ${newest}. Delete keys in the namespace, or ${raise("namespaceApiKeys")}`,
        );
        continue;
      }
      if (overflowed || bytes + size > b.namespaceBytes) {
        overflowed = true;
        refuse(
          `namespace "${ns}": its objects' specs total ${n.bytes} bytes as JSON, over its namespaceBytes budget of ${b.namespaceBytes}, and this one (${size} bytes) does not fit after the older ones; ${newest}. Make objects in the namespace smaller, delete some, or ${raise("namespaceBytes")}`,
        );
        continue;
      }
      bytes += size;
      if (obj.kind === "GatewayRoute") routes++;
      if (obj.kind === "ApiKey") apiKeys++;
    }
  }
}
