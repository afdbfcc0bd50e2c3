// AuthzPolicy rules: Deny rules first, then Allow rules, else the default action.
// A rule matches when every field it gives matches (any value within a field; an empty
// list matches nothing). Everything is compiled when the snapshot loads.
//
// Where a rule cannot be sure — a `when` expression that errors, an identity field the
// request has none of — the answer is the one that fails closed: a Deny rule matches, an
// Allow rule does not. For identity fields that means a Deny on roles [x] does not hit a
// caller without roles (it cannot be "x"), while an Allow on roles [x] never lets such a
// caller in either.

import { createRequire } from "node:module";
import { extname } from "node:path";
import type { Condition } from "../../../core/api/cel-conditions.ts";
import { compilePathPattern, type PathPattern } from "../../../core/api/path-pattern.ts";
import type { SnapshotAuthzPolicy } from "../../../core/api/snapshot/schema.ts";
import { CidrSet } from "./cidr.ts";
import type { Identity } from "./identity.ts";

type CelConditions = typeof import("../../../core/api/cel-conditions.ts");
let cel: CelConditions | undefined;
/**
 * CEL (@bufbuild/cel and its protobuf runtime, ~4 MB of heap) loads with the first rule
 * that has a `when` condition, not with every gateway: most snapshots have none. Required,
 * since a snapshot is built synchronously; requiring an ES module (Node ≥ 22.12) gives the
 * same module instance an import does, so a process that also compiles (standalone) holds
 * one copy. The extension is this file's own: .ts from the sources, .js in the image.
 */
function celConditions(): CelConditions {
  cel ??= createRequire(import.meta.url)(
    `../../../core/api/cel-conditions${extname(import.meta.url)}`,
  ) as CelConditions;
  return cel;
}

type Action = "Allow" | "Deny";

/** What a rule looks at in a request. Headers: lower-case names, values joined. */
export interface AuthzRequest {
  method: string;
  path: string;
  client: string;
  timeMs: number;
  headers: Readonly<Record<string, string>>;
}

export interface AuthzVerdict {
  action: Action;
  /** The rule that decided (its name, or rules[i]); undefined for the default action. */
  rule: string | undefined;
}

const PRINCIPAL_FIELDS = new Set(["roles", "scopes", "consumers", "tenants", "sourceCIDRs"]);

interface CompiledRule {
  label: string;
  action: Action;
  /** Looks at request headers (a header match or a `when` condition). */
  readsHeaders: boolean;
  test(request: AuthzRequest, identity: Identity | undefined): boolean;
}

const anyOf = (wanted: ReadonlySet<string>, have: readonly string[]) => have.some((h) => wanted.has(h));

function compileRule(rule: SnapshotAuthzPolicy["rules"][number], index: number): CompiledRule {
  const deny = rule.action === "Deny";
  const label = rule.name ?? `rules[${index}]`;
  const checks: ((r: AuthzRequest, id: Identity | undefined) => boolean)[] = [];
  const principals = rule.principals ?? {};
  for (const field of Object.keys(principals)) {
    // A field we do not know would be silently ignored, widening an Allow: refuse it.
    if (!PRINCIPAL_FIELDS.has(field)) throw new TypeError(`${label}: unknown principal field "${field}"`);
  }
  const set = (values: readonly string[] | undefined) => (values ? new Set(values) : undefined);
  const roles = set(principals.roles);
  const scopes = set(principals.scopes);
  const consumers = set(principals.consumers);
  const tenants = set(principals.tenants);
  if (roles) checks.push((_, id) => anyOf(roles, id?.roles ?? []));
  if (scopes) checks.push((_, id) => anyOf(scopes, id?.scopes ?? []));
  if (consumers) checks.push((_, id) => id?.consumer !== undefined && consumers.has(id.consumer));
  if (tenants) checks.push((_, id) => id?.tenant !== undefined && tenants.has(id.tenant));
  if (principals.sourceCIDRs) {
    const cidrs = new CidrSet(principals.sourceCIDRs);
    checks.push((r) => cidrs.contains(r.client));
  }
  const req = rule.request ?? {};
  if (req.methods) {
    const methods = new Set(req.methods.map((m) => m.toUpperCase()));
    // HEAD is GET without the body: a Deny on GET covers it.
    if (deny && methods.has("GET")) methods.add("HEAD");
    checks.push((r) => methods.has(r.method.toUpperCase()));
  }
  if (req.paths) {
    const patterns: PathPattern[] = req.paths.map((p) => compilePathPattern(p, deny));
    checks.push((r) => patterns.some((p) => p.matches(r.path)));
  }
  if (req.headers) {
    const wanted = req.headers.map((h) => ({ name: h.name.toLowerCase(), value: h.value }));
    checks.push((r) => wanted.every((h) => r.headers[h.name] === h.value));
  }
  const conditions: Condition[] = rule.when.length > 0 ? rule.when.map(celConditions().compileCondition) : [];
  if (conditions.length > 0) {
    checks.push((r, id) => {
      const input = {
        claims: id?.claims ?? {},
        headers: r.headers,
        method: r.method,
        path: r.path,
        ip: r.client,
        timeMs: r.timeMs,
      };
      return conditions.every((c) => {
        const result = c.evaluate(input);
        return result === "error" ? deny : result;
      });
    });
  }
  return {
    label,
    action: rule.action,
    readsHeaders: req.headers !== undefined || conditions.length > 0,
    test: (r, id) => checks.every((c) => c(r, id)),
  };
}

export class AuthzRules {
  readonly #deny: CompiledRule[];
  readonly #allow: CompiledRule[];
  readonly #defaultAction: Action;
  /** Some rule reads request headers; when none does, callers need not pass them. */
  readonly readsHeaders: boolean;

  /** Throws when a rule cannot be compiled (compile refuses such policies first). */
  constructor(policy: Pick<SnapshotAuthzPolicy, "rules" | "defaultAction">) {
    const rules = policy.rules.map(compileRule);
    this.#deny = rules.filter((r) => r.action === "Deny");
    this.#allow = rules.filter((r) => r.action === "Allow");
    this.#defaultAction = policy.defaultAction;
    this.readsHeaders = rules.some((r) => r.readsHeaders);
  }

  decide(request: AuthzRequest, identity: Identity | undefined): AuthzVerdict {
    for (const r of this.#deny) if (r.test(request, identity)) return { action: "Deny", rule: r.label };
    for (const r of this.#allow) if (r.test(request, identity)) return { action: "Allow", rule: r.label };
    return { action: this.#defaultAction, rule: undefined };
  }
}
