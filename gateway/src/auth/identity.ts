// Who authentication says the caller is, and what the upstream is told about it.
import type { Snapshot, SnapshotAuthzPolicy } from "../../../core/api/snapshot/schema.ts";
import { type Claims, claimAt, claimHeaderValue } from "./claims.ts";

export type AuthMethod = "jwt" | "apiKey";

export interface Identity {
  /** How the caller authenticated: one method, or both when the policy requires All. */
  readonly methods: readonly AuthMethod[];
  /** The JWT's sub; for an API key alone, the key's consumer. */
  readonly subject: string | undefined;
  /** The ApiKey's consumer. */
  readonly consumer: string | undefined;
  /** The ApiKey's tenant. */
  readonly tenant: string | undefined;
  /** JWT scope/scp and ApiKey scopes (the union when both were presented). */
  readonly scopes: readonly string[];
  /** From the provider's rolesClaim. */
  readonly roles: readonly string[];
  /** The verified JWT claims; undefined without a JWT. */
  readonly claims: Claims | undefined;
  /** The JWT provider that verified the token. */
  readonly provider: string | undefined;
  /** namespace/name of the ApiKey; never the key or its digest. */
  readonly apiKeyId: string | undefined;
}

type Authn = NonNullable<SnapshotAuthzPolicy["authentication"]>;

/** Header names (lower case) a policy's claimToHeaders may set. */
export function policyIdentityHeaders(authentication: Authn | undefined): string[] {
  const names = new Set<string>();
  for (const p of authentication?.jwt ?? [])
    for (const c of p.claimToHeaders) names.add(c.header.toLowerCase());
  return [...names].sort();
}

/**
 * Every identity header the gateway may set on any route of the snapshot. The data plane
 * removes incoming copies of all of them on every request, not only on routes with a
 * policy: an upstream reachable through two routes must not trust on one what a client
 * wrote on the other.
 */
export function identityHeaderNames(snapshot: Pick<Snapshot, "authzPolicies">): ReadonlySet<string> {
  const names = new Set<string>();
  for (const p of snapshot.authzPolicies)
    for (const h of policyIdentityHeaders(p.authentication)) names.add(h);
  return names;
}

/** The upstream headers claimToHeaders gives for verified claims; absent claims set nothing. */
export function claimHeaders(
  mappings: readonly { claim: string; header: string }[],
  claims: Claims,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of mappings) {
    const value = claimHeaderValue(claimAt(claims, m.claim));
    if (value !== undefined) out[m.header.toLowerCase()] = value;
  }
  return out;
}
