// Policy attachment (Gateway API style targetRefs): RateLimitPolicies all apply to the rules
// they target; for AuthzPolicies one policy decides per rule — one that names the rule
// (sectionName) over one for the whole route, and the oldest among equals.
import ipaddr from "ipaddr.js";
import type { AuthzPolicySpec } from "../api/authz-policy.ts";
import { JWT_ASYMMETRIC_ALGORITHMS } from "../api/authz-policy.ts";
import { celProblem } from "../api/cel-conditions.ts";
import type { KubeObject, PolicyTargetReference, SecretKeySelector } from "../api/common.ts";
import { pathPatternProblem } from "../api/path-pattern.ts";
import type { RateLimitPolicySpec } from "../api/rate-limit-policy.ts";
import type { SnapshotAuthzPolicy, SnapshotRateLimitPolicy, SnapshotRule } from "../api/snapshot/schema.ts";
import { durationMs } from "./durations.ts";
import type { LastGood, LastGoodPolicy } from "./last-good.ts";
import { type ObjectIndex, olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import type { TargetableRoute } from "./routes.ts";
import { secretValue } from "./secrets.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";
import { readTargetRefs } from "./target-refs.ts";

interface Target {
  ruleIds: string[];
  /** The ref named a rule (sectionName): it outranks a policy for the whole route. */
  section: boolean;
  field: string;
}

interface Targets {
  resolved: Target[];
  /** Refs to routes that do not exist (or are not served): nothing of theirs to protect. */
  missing: string[];
  /** Refs naming a rule its route does not have: the policy is invalid, and these are the route's rules. */
  badSections: { message: string; ruleIds: string[] }[];
}

type Routes = Map<string, TargetableRoute>;

function resolveTargets(namespace: string, refs: readonly PolicyTargetReference[], routes: Routes): Targets {
  const out: Targets = { resolved: [], missing: [], badSections: [] };
  for (const [i, ref] of refs.entries()) {
    const field = `spec.targetRefs[${i}]`;
    const route = routes.get(`${namespace}/${ref.name}`);
    if (!route) {
      out.missing.push(
        `${field}.name: GatewayRoute "${ref.name}" not found (or not accepted) in namespace "${namespace}"`,
      );
      continue;
    }
    if (ref.sectionName) {
      const rule = route.rules.find((x) => x.name === ref.sectionName);
      if (!rule) {
        out.badSections.push({
          message: `${field}.sectionName: GatewayRoute "${ref.name}" has no rule named "${ref.sectionName}"`,
          ruleIds: route.rules.map((r) => r.id),
        });
        continue;
      }
      out.resolved.push({ ruleIds: [rule.id], section: true, field });
    } else {
      out.resolved.push({ ruleIds: route.rules.map((r) => r.id), section: false, field });
    }
  }
  return out;
}

/**
 * The rules an invalid policy was meant to protect: what its targetRefs resolve to (a
 * misspelled sectionName counts as the whole route), or — when not even the targetRefs
 * can be read — every rule of its namespace.
 */
function intendedRules(policy: KubeObject, routes: Routes): string[] {
  const namespace = namespaceOf(policy);
  const refs = readTargetRefs(policy.spec);
  if (!refs) {
    return [...routes.entries()]
      .filter(([key]) => key.startsWith(`${namespace}/`))
      .flatMap(([, r]) => r.rules.map((x) => x.id));
  }
  const t = resolveTargets(namespace, refs, routes);
  return [...t.resolved.flatMap((x) => x.ruleIds), ...t.badSections.flatMap((x) => x.ruleIds)];
}

/**
 * A policy that is not accepted never leaves its rules less protected than its owner
 * asked: its last good version keeps serving (on the rules it had and the rules it targets
 * now), or, with none, every rule it targets refuses traffic (503 policy-invalid).
 * Returns the last good version to serve and its rules, or undefined when failing closed.
 */
function fallBack<P>(
  policy: KubeObject,
  status: StatusBook,
  rules: Map<string, SnapshotRule>,
  routes: Routes,
  lastGood: LastGood,
  kept: LastGoodPolicy<P> | undefined,
  why?: string,
): { policy: P; ruleIds: string[] } | undefined {
  const intended = intendedRules(policy, routes).filter((r) => rules.has(r));
  if (kept) {
    status.servingLastGood(policy, lastGood.generation(policy));
    const ruleIds = [...new Set([...kept.ruleIds, ...intended])].filter((r) => rules.has(r)).sort();
    return { policy: kept.policy, ruleIds };
  }
  const id = `${namespaceOf(policy)}/${policy.metadata.name}`;
  const refused = [...new Set(intended)].sort();
  for (const r of refused) {
    const rule = rules.get(r) as SnapshotRule;
    rule.refuse = { ...rule.refuse, policies: [...new Set([...(rule.refuse?.policies ?? []), id])].sort() };
  }
  status.failedClosed(policy, refused, why);
  return undefined;
}

function reportTargets(policy: KubeObject, status: StatusBook, targets: Targets): boolean {
  if (targets.resolved.length === 0) {
    status.set(policy, "Accepted", false, Reason.TargetNotFound, targets.missing.join("; "));
    return false;
  }
  return true;
}

function compileRateLimitPolicy(policy: KubeObject<RateLimitPolicySpec>): SnapshotRateLimitPolicy {
  const spec = policy.spec as RateLimitPolicySpec;
  return {
    id: `${namespaceOf(policy)}/${policy.metadata.name}`,
    failureMode: spec.failureMode,
    responseHeaders: spec.responseHeaders,
    rules: spec.rules.map((r) => ({
      name: r.name,
      key: {
        type: r.key.type,
        ...(r.key.claim ? { claim: r.key.claim } : {}),
        ...(r.key.header ? { header: r.key.header.toLowerCase() } : {}),
      },
      algorithm: r.algorithm,
      requests: r.limit.requests,
      periodMs: durationMs(r.limit.per),
      ...(r.limit.burst !== undefined ? { burst: r.limit.burst } : {}),
      overrides: [...(r.overrides ?? [])].sort((a, b) =>
        a.match < b.match ? -1 : a.match > b.match ? 1 : 0,
      ),
      ...(r.blockDuration ? { blockMs: durationMs(r.blockDuration) } : {}),
    })),
  };
}

export function attachRateLimitPolicies(
  index: ObjectIndex,
  status: StatusBook,
  routes: Routes,
  rules: Map<string, SnapshotRule>,
  lastGood: LastGood,
): SnapshotRateLimitPolicy[] {
  const out: SnapshotRateLimitPolicy[] = [];
  const attach = (id: string, ruleIds: string[]) => {
    for (const r of ruleIds) {
      const rule = rules.get(r);
      if (rule && !rule.rateLimitPolicies.includes(id)) rule.rateLimitPolicies.push(id);
    }
  };
  const notAccepted = (policy: KubeObject) => {
    const kept = fallBack(policy, status, rules, routes, lastGood, lastGood.rateLimitPolicy(policy));
    if (!kept) return;
    attach(kept.policy.id, kept.ruleIds);
    out.push(kept.policy);
  };
  for (const policy of index.rejected("RateLimitPolicy")) notAccepted(policy);
  for (const policy of index.list<RateLimitPolicySpec>("RateLimitPolicy")) {
    const spec = policy.spec as RateLimitPolicySpec;
    status.setTargets(policy, spec.targetRefs);
    const targets = resolveTargets(namespaceOf(policy), spec.targetRefs, routes);
    if (targets.badSections.length > 0) {
      status.invalid(policy, targets.badSections.map((b) => b.message).join("; "));
      notAccepted(policy);
      continue;
    }
    if (!reportTargets(policy, status, targets)) continue;
    const compiled = compileRateLimitPolicy(policy);
    attach(
      compiled.id,
      targets.resolved.flatMap((t) => t.ruleIds),
    );
    status.set(policy, "Accepted", true, Reason.Accepted, "The policy is valid and attached.");
    status.served(policy);
    targetsCondition(policy, status, targets.missing);
    out.push(compiled);
  }
  for (const rule of rules.values()) rule.rateLimitPolicies.sort();
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Checks what the schema cannot: CIDRs, CEL syntax, inline JWKS. Returns the first problem. */
function authzProblem(spec: AuthzPolicySpec): string | undefined {
  for (const [r, rule] of (spec.rules ?? []).entries()) {
    for (const [i, cidr] of (rule.principals?.sourceCIDRs ?? []).entries()) {
      if (!ipaddr.isValidCIDR(cidr))
        return `spec.rules[${r}].principals.sourceCIDRs[${i}]: "${cidr}" is not a CIDR range`;
    }
    // The gateway's own checks, so what compile accepts is what a gateway can build.
    for (const [i, expr] of (rule.when ?? []).entries()) {
      const problem = celProblem(expr);
      if (problem) return `spec.rules[${r}].when[${i}]: ${problem}`;
    }
    for (const [i, path] of (rule.request?.paths ?? []).entries()) {
      const problem = pathPatternProblem(path);
      if (problem) return `spec.rules[${r}].request.paths[${i}]: "${path}" ${problem}`;
    }
  }
  for (const [p, provider] of (spec.authentication?.jwt?.providers ?? []).entries()) {
    if (provider.jwks?.inline !== undefined && !isJwks(provider.jwks.inline)) {
      return `spec.authentication.jwt.providers[${p}].jwks.inline: not a JWKS document (JSON with a "keys" array)`;
    }
  }
  return undefined;
}

function isJwks(text: string): boolean {
  try {
    const doc = JSON.parse(text) as { keys?: { kty?: unknown }[] };
    return (
      Array.isArray(doc.keys) &&
      doc.keys.every(
        (k) => typeof k === "object" && k !== null && !Array.isArray(k) && typeof k.kty === "string",
      )
    );
  } catch {
    return false;
  }
}

const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };

type AuthnSpec = NonNullable<AuthzPolicySpec["authentication"]>;
type Provider = NonNullable<AuthnSpec["jwt"]>["providers"][number];
type ProviderKeys = NonNullable<SnapshotAuthzPolicy["authentication"]>["jwt"] extends (infer P)[] | undefined
  ? P extends { keys: infer K }
    ? K
    : never
  : never;

function providerKeys(
  index: ObjectIndex,
  namespace: string,
  provider: Provider,
  field: string,
  algorithms: string[],
): { keys: ProviderKeys } | { reason: Reason; message: string } {
  const fromSecret = (ref: SecretKeySelector, at: string) => {
    const value = secretValue(index, namespace, ref);
    if ("missing" in value)
      return { reason: Reason.SecretNotFound, message: `${at}: ${value.missing}` } as const;
    return value;
  };
  if (provider.hmacSecretRef) {
    const secret = fromSecret(provider.hmacSecretRef, `${field}.hmacSecretRef`);
    if ("reason" in secret) return secret;
    const need = Math.max(...algorithms.map((a) => HMAC_MIN_BYTES[a] ?? 32));
    if (secret.bytes.length < need) {
      return {
        reason: Reason.InvalidSecret,
        message: `${field}.hmacSecretRef: the secret has ${secret.bytes.length} bytes; ${algorithms.join("/")} needs at least ${need}`,
      };
    }
    return { keys: { hmacSecret: secret.bytes.toString("base64") } };
  }
  const jwks = provider.jwks ?? {};
  if (jwks.uri) return { keys: { jwksUri: jwks.uri } };
  if (jwks.inline) return { keys: { jwks: JSON.parse(jwks.inline) } };
  if (jwks.secretRef) {
    const secret = fromSecret(jwks.secretRef, `${field}.jwks.secretRef`);
    if ("reason" in secret) return secret;
    const text = secret.bytes.toString("utf8");
    if (!isJwks(text)) {
      return {
        reason: Reason.InvalidSecret,
        message: `${field}.jwks.secretRef: the secret is not a JWKS document`,
      };
    }
    return { keys: { jwks: JSON.parse(text) } };
  }
  return { reason: Reason.InvalidSecret, message: `${field}: no keys` };
}

function compileAuthentication(index: ObjectIndex, namespace: string, authn: AuthnSpec) {
  const problems: { reason: Reason; message: string }[] = [];
  const jwt: NonNullable<SnapshotAuthzPolicy["authentication"]>["jwt"] = [];
  for (const [p, provider] of (authn.jwt?.providers ?? []).entries()) {
    const field = `spec.authentication.jwt.providers[${p}]`;
    const algorithms = [
      ...(provider.algorithms ?? (provider.hmacSecretRef ? ["HS256"] : JWT_ASYMMETRIC_ALGORITHMS)),
    ].sort();
    const keys = providerKeys(index, namespace, provider, field, algorithms);
    if ("reason" in keys) {
      problems.push(keys);
      continue;
    }
    jwt.push({
      name: provider.name,
      issuer: provider.issuer,
      audiences: [...(provider.audiences ?? [])].sort(),
      algorithms,
      keys: keys.keys,
      clockSkewMs: durationMs(provider.clockSkew),
      requiredClaims: [...(provider.requiredClaims ?? [])].sort(),
      rolesClaim: provider.rolesClaim,
      from: provider.from ?? [{ header: "authorization" }],
      claimToHeaders: (provider.claimToHeaders ?? []).map((c) => ({
        claim: c.claim,
        header: c.header.toLowerCase(),
      })),
    });
  }
  const compiled: NonNullable<SnapshotAuthzPolicy["authentication"]> = {
    require: authn.require,
    ...(authn.jwt ? { jwt: jwt.sort((a, b) => (a.name < b.name ? -1 : 1)) } : {}),
    ...(authn.apiKey ? { apiKey: { from: authn.apiKey.from } } : {}),
  };
  return { compiled, problems };
}

interface AuthzCandidate {
  policy: KubeObject;
  compiled: SnapshotAuthzPolicy;
  targets: Target[];
  missing: string[];
  /** Served at its last good version: no Accepted/ResolvedRefs of its own to report. */
  lastGood: boolean;
}

export function attachAuthzPolicies(
  index: ObjectIndex,
  status: StatusBook,
  routes: Routes,
  rules: Map<string, SnapshotRule>,
  lastGood: LastGood,
): SnapshotAuthzPolicy[] {
  const candidates: AuthzCandidate[] = [];
  const notAccepted = (policy: KubeObject) => {
    const kept = fallBack(policy, status, rules, routes, lastGood, lastGood.authzPolicy(policy));
    if (kept) {
      candidates.push({
        policy,
        compiled: kept.policy,
        targets: [{ ruleIds: kept.ruleIds, section: true, field: "(last good version)" }],
        missing: [],
        lastGood: true,
      });
    }
  };
  // Secrets that do not resolve fail closed even when a last good version exists: deleting
  // or breaking a key Secret must never leave the old key material trusted.
  const unresolved = (policy: KubeObject) => {
    fallBack(
      policy,
      status,
      rules,
      routes,
      lastGood,
      undefined,
      "Its Secrets do not resolve (old key material is never kept)",
    );
  };
  for (const policy of index.rejected("AuthzPolicy")) notAccepted(policy);
  for (const policy of index.list<AuthzPolicySpec>("AuthzPolicy")) {
    const spec = policy.spec as AuthzPolicySpec;
    status.setTargets(policy, spec.targetRefs);
    const problem = authzProblem(spec);
    if (problem) {
      status.invalid(policy, problem);
      notAccepted(policy);
      continue;
    }
    const namespace = namespaceOf(policy);
    const authn = spec.authentication && compileAuthentication(index, namespace, spec.authentication);
    if (authn && authn.problems.length > 0) {
      const first = authn.problems[0] as { reason: Reason; message: string };
      const message = authn.problems.map((p) => p.message).join("; ");
      status.set(policy, "Accepted", false, first.reason, message);
      status.set(policy, "ResolvedRefs", false, first.reason, message);
      unresolved(policy);
      continue;
    }
    const targets = resolveTargets(namespace, spec.targetRefs, routes);
    if (targets.badSections.length > 0) {
      status.invalid(policy, targets.badSections.map((b) => b.message).join("; "));
      notAccepted(policy);
      continue;
    }
    if (!reportTargets(policy, status, targets)) continue;
    candidates.push({
      policy,
      compiled: {
        id: `${namespace}/${policy.metadata.name}`,
        ...(authn ? { authentication: authn.compiled } : {}),
        rules: (spec.rules ?? []).map((r) => ({
          ...(r.name ? { name: r.name } : {}),
          action: r.action,
          ...(r.principals ? { principals: r.principals } : {}),
          ...(r.request ? { request: r.request } : {}),
          when: r.when ?? [],
        })),
        defaultAction: spec.defaultAction,
      },
      targets: targets.resolved,
      missing: targets.missing,
      lastGood: false,
    });
  }
  // Oldest first, so the first policy to claim a (rule, level) keeps it.
  candidates.sort((a, b) => olderFirst(a.policy, b.policy));
  const out: SnapshotAuthzPolicy[] = [];
  const claims = new Map<string, { policy: KubeObject; section: boolean }>();
  for (const c of candidates) {
    const { policy } = c;
    const conflicts: string[] = [];
    let attached = 0;
    for (const t of c.targets) {
      for (const r of t.ruleIds) {
        const claimKey = `${r}|${t.section}`;
        const holder = claims.get(claimKey);
        if (holder && holder.policy !== policy) {
          conflicts.push(
            `${t.field}: rule ${r} already has AuthzPolicy ${namespaceOf(holder.policy)}/${holder.policy.metadata.name}, which is older`,
          );
          continue;
        }
        claims.set(claimKey, { policy, section: t.section });
        attached++;
      }
    }
    if (c.lastGood) {
      if (attached > 0) out.push(c.compiled);
      continue;
    }
    if (attached === 0) {
      status.set(policy, "Accepted", false, Reason.Conflicted, conflicts.join("; "));
      continue;
    }
    status.set(policy, "Accepted", true, Reason.Accepted, "The policy is valid and attached.");
    status.served(policy);
    targetsCondition(policy, status, c.missing);
    if (conflicts.length > 0)
      status.set(policy, "Conflicted", true, Reason.TargetConflict, conflicts.join("; "));
    out.push(c.compiled);
  }
  // A policy naming the rule (section) beats one for the whole route.
  for (const [key, { policy, section }] of claims) {
    const r = key.slice(0, key.lastIndexOf("|"));
    const rule = rules.get(r);
    if (!rule || (rule.authzPolicy && !section)) continue;
    rule.authzPolicy = `${namespaceOf(policy)}/${policy.metadata.name}`;
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

function targetsCondition(policy: KubeObject, status: StatusBook, missing: string[]) {
  if (missing.length > 0)
    status.set(policy, "ResolvedRefs", false, Reason.TargetNotFound, missing.join("; "));
  else status.set(policy, "ResolvedRefs", true, Reason.ResolvedRefs, "All targets resolved.");
}
