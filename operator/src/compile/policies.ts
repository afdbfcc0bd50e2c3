// Policy attachment (Gateway API style targetRefs): RateLimitPolicies all apply to the rules
// they target; for AuthzPolicies one policy decides per rule — one that names the rule
// (sectionName) over one for the whole route, and the oldest among equals.
import ipaddr from "ipaddr.js";
import { celProblem } from "../../../gateway/src/auth/cel-conditions.ts";
import { pathPatternProblem } from "../../../gateway/src/auth/path-pattern.ts";
import type {
  SnapshotAuthzPolicy,
  SnapshotRateLimitPolicy,
  SnapshotRule,
} from "../../../gateway/src/snapshot/schema.ts";
import type { AuthzPolicySpec } from "../api/authz-policy.ts";
import { JWT_ASYMMETRIC_ALGORITHMS } from "../api/authz-policy.ts";
import type { KubeObject, PolicyTargetReference, SecretKeySelector } from "../api/common.ts";
import type { GatewayRouteSpec } from "../api/gateway-route.ts";
import type { RateLimitPolicySpec } from "../api/rate-limit-policy.ts";
import { durationMs } from "./durations.ts";
import { type ObjectIndex, olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import { ruleId } from "./routes.ts";
import { secretValue } from "./secrets.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";

interface Targets {
  /** Rule ids each targetRef resolved to, with whether it named a section. */
  resolved: { ruleIds: string[]; section: boolean; field: string }[];
  missing: string[];
}

function resolveTargets(
  policy: KubeObject<{ targetRefs: PolicyTargetReference[] }>,
  routes: Map<string, KubeObject<GatewayRouteSpec>>,
): Targets {
  const namespace = namespaceOf(policy);
  const out: Targets = { resolved: [], missing: [] };
  for (const [i, ref] of (policy.spec?.targetRefs ?? []).entries()) {
    const field = `spec.targetRefs[${i}]`;
    const route = routes.get(`${namespace}/${ref.name}`);
    if (!route) {
      out.missing.push(
        `${field}.name: GatewayRoute "${ref.name}" not found (or not accepted) in namespace "${namespace}"`,
      );
      continue;
    }
    const rules = (route.spec as GatewayRouteSpec).rules;
    if (ref.sectionName) {
      const r = rules.findIndex((x) => x.name === ref.sectionName);
      if (r < 0) {
        out.missing.push(
          `${field}.sectionName: GatewayRoute "${ref.name}" has no rule named "${ref.sectionName}"`,
        );
        continue;
      }
      out.resolved.push({ ruleIds: [ruleId(namespace, ref.name, r)], section: true, field });
    } else {
      out.resolved.push({
        ruleIds: rules.map((_, r) => ruleId(namespace, ref.name, r)),
        section: false,
        field,
      });
    }
  }
  return out;
}

function reportTargets(policy: KubeObject, status: StatusBook, targets: Targets): boolean {
  if (targets.resolved.length === 0) {
    status.set(policy, "Accepted", false, Reason.TargetNotFound, targets.missing.join("; "));
    return false;
  }
  return true;
}

export function attachRateLimitPolicies(
  index: ObjectIndex,
  status: StatusBook,
  routes: Map<string, KubeObject<GatewayRouteSpec>>,
  rules: Map<string, SnapshotRule>,
): SnapshotRateLimitPolicy[] {
  const out: SnapshotRateLimitPolicy[] = [];
  for (const policy of index.list<RateLimitPolicySpec>("RateLimitPolicy")) {
    const spec = policy.spec as RateLimitPolicySpec;
    status.setTargets(policy, spec.targetRefs);
    const targets = resolveTargets(policy, routes);
    if (!reportTargets(policy, status, targets)) continue;
    const id = `${namespaceOf(policy)}/${policy.metadata.name}`;
    for (const t of targets.resolved) {
      for (const r of t.ruleIds) {
        const rule = rules.get(r);
        if (rule && !rule.rateLimitPolicies.includes(id)) rule.rateLimitPolicies.push(id);
      }
    }
    status.set(policy, "Accepted", true, Reason.Accepted, "The policy is valid and attached.");
    targetsCondition(policy, status, targets.missing);
    out.push({
      id,
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
    });
  }
  for (const rule of rules.values()) rule.rateLimitPolicies.sort();
  return out;
}

function targetsCondition(policy: KubeObject, status: StatusBook, missing: string[]) {
  if (missing.length > 0)
    status.set(policy, "ResolvedRefs", false, Reason.TargetNotFound, missing.join("; "));
  else status.set(policy, "ResolvedRefs", true, Reason.ResolvedRefs, "All targets resolved.");
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

export function attachAuthzPolicies(
  index: ObjectIndex,
  status: StatusBook,
  routes: Map<string, KubeObject<GatewayRouteSpec>>,
  rules: Map<string, SnapshotRule>,
): SnapshotAuthzPolicy[] {
  const out: SnapshotAuthzPolicy[] = [];
  // Oldest first, so the first policy to claim a (rule, level) keeps it.
  const policies = index.list<AuthzPolicySpec>("AuthzPolicy").sort(olderFirst);
  const claims = new Map<string, { policy: KubeObject; section: boolean }>();
  for (const policy of policies) {
    const spec = policy.spec as AuthzPolicySpec;
    status.setTargets(policy, spec.targetRefs);
    const problem = authzProblem(spec);
    if (problem) {
      status.invalid(policy, problem);
      continue;
    }
    const namespace = namespaceOf(policy);
    const id = `${namespace}/${policy.metadata.name}`;
    const authn = spec.authentication && compileAuthentication(index, namespace, spec.authentication);
    if (authn && authn.problems.length > 0) {
      status.set(
        policy,
        "Accepted",
        false,
        authn.problems[0]?.reason ?? Reason.InvalidSecret,
        authn.problems.map((p) => p.message).join("; "),
      );
      const first = authn.problems[0];
      if (first)
        status.set(
          policy,
          "ResolvedRefs",
          false,
          first.reason,
          authn.problems.map((p) => p.message).join("; "),
        );
      continue;
    }
    const targets = resolveTargets(policy, routes);
    if (!reportTargets(policy, status, targets)) continue;
    const conflicts: string[] = [];
    let attached = 0;
    for (const t of targets.resolved) {
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
    if (attached === 0) {
      status.set(policy, "Accepted", false, Reason.Conflicted, conflicts.join("; "));
      continue;
    }
    status.set(policy, "Accepted", true, Reason.Accepted, "The policy is valid and attached.");
    targetsCondition(policy, status, targets.missing);
    if (conflicts.length > 0)
      status.set(policy, "Conflicted", true, Reason.TargetConflict, conflicts.join("; "));
    out.push({
      id,
      ...(authn ? { authentication: authn.compiled } : {}),
      rules: (spec.rules ?? []).map((r) => ({
        ...(r.name ? { name: r.name } : {}),
        action: r.action,
        ...(r.principals ? { principals: r.principals } : {}),
        ...(r.request ? { request: r.request } : {}),
        when: r.when ?? [],
      })),
      defaultAction: spec.defaultAction,
    });
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
