// One AuthzPolicy, ready for requests: authenticate (JWT, API key, Any or All), then
// authorize (rules), giving a decision the data plane sends or acts on.
import type { IncomingHttpHeaders } from "node:http";
import { decodeJwt, type JWTPayload } from "jose";
import type { SnapshotAuthzPolicy } from "../../../core/api/snapshot/schema.ts";
import type { ApiKeyStore } from "./api-key-store.ts";
import type { ApiKeyUsage } from "./api-key-usage.ts";
import { AuthProblem, type AuthProblemKind, challengeHeader } from "./auth-responses.ts";
import { AuthzRules, type AuthzVerdict } from "./authz-rules.ts";
import { rolesOf, scopesOf } from "./claims.ts";
import { type CredentialSource, credentialDigest, presentedCredential } from "./credentials.ts";
import { type AuthMethod, claimHeaders, type Identity } from "./identity.ts";
import type { JwtOutcome, JwtProvider } from "./jwt-provider.ts";

/** What the data plane knows about the request when it asks. */
export interface AuthRequest {
  method: string;
  /** The normalised path (the one routed and forwarded). */
  path: string;
  /** The raw query, "" or "?…". */
  query: string;
  /** The headers as the client sent them. */
  headers: IncomingHttpHeaders;
  /** The client address (forwarded.ts). */
  client: string;
}

/** A credential that was presented and refused; for brute-force counting in the limiter. */
export interface AuthFailure {
  policy: string;
  client: string;
  method: AuthMethod;
  /** Why, for logs and metrics (never sent to the client, never the credential). */
  reason: string;
  /**
   * The presented credential's digest (credentialDigest), when the credential itself was
   * refused; absent when it was malformed or refused only because of the client address.
   * Never a consumer or subject: failures must not count against a consumer's other keys.
   */
  credential?: string;
}

export type AuthDecision =
  | {
      allowed: true;
      /** undefined when the policy does not authenticate (rules on addresses, paths…). */
      identity: Identity | undefined;
      /** claimToHeaders: set these on the upstream request. */
      upstreamHeaders: Record<string, string>;
      /** The rule that allowed, or undefined for defaultAction. */
      rule: string | undefined;
    }
  | {
      allowed: false;
      status: 401 | 403;
      problem: AuthProblemKind;
      /** WWW-Authenticate on a 401; nothing on a 403. */
      headers: Record<string, string>;
      /** Why, for logs: "jwt:expired", "apiKey:unknown", "missing", "denied". */
      reason: string;
      rule: string | undefined;
      identity: Identity | undefined;
    };

type Authn = NonNullable<SnapshotAuthzPolicy["authentication"]>;

type CredentialState<T> =
  | { state: "absent" }
  | { state: "invalid"; reason: string; credential?: string; quiet?: boolean }
  | { state: "valid"; value: T };

interface JwtValid {
  provider: JwtProvider;
  claims: JWTPayload;
}

interface ApiKeyValid {
  id: string;
  consumer: string;
  tenant: string | undefined;
  scopes: readonly string[];
}

const ABSENT = { state: "absent" } as const;

/** What authentication established, or the refusal. */
type Authenticated =
  | { ok: true; identity: Identity | undefined; upstreamHeaders: Record<string, string> }
  | { ok: false; decision: AuthDecision & { allowed: false } };

export interface AuthPolicyDeps {
  providers: readonly JwtProvider[];
  apiKeys: ApiKeyStore;
  usage: ApiKeyUsage;
  /** Identity headers of the whole snapshot: rules never see client-sent copies. */
  identityHeaders: ReadonlySet<string>;
  now: () => number;
  onFailure?: (failure: AuthFailure) => void;
}

function unverifiedIssuer(token: string): string | undefined {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function headerView(headers: IncomingHttpHeaders, hidden: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hidden.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export class AuthPolicyRuntime {
  readonly id: string;
  readonly namespace: string;
  readonly #authn: Authn | undefined;
  readonly #rules: AuthzRules;
  readonly #deps: AuthPolicyDeps;
  /** The identity each verified token gives (weakly: the provider's token cache decides how long). */
  readonly #byClaims = new WeakMap<JWTPayload, Authenticated & { ok: true }>();

  constructor(policy: SnapshotAuthzPolicy, deps: AuthPolicyDeps) {
    this.id = policy.id;
    this.namespace = policy.id.slice(0, policy.id.indexOf("/"));
    this.#authn = policy.authentication;
    this.#rules = new AuthzRules(policy);
    this.#deps = deps;
  }

  /**
   * Authenticates, then authorizes. Never throws for anything a client sends. Answers at
   * once when no credential needs verifying (a token verified before, an API key, none):
   * only a signature check waits, so the usual request costs no promise here.
   */
  check(request: AuthRequest): AuthDecision | Promise<AuthDecision> {
    const authn = this.authenticate(request);
    return authn instanceof Promise
      ? authn.then((a) => this.#decide(request, a))
      : this.#decide(request, authn);
  }

  #decide(request: AuthRequest, authn: Authenticated): AuthDecision {
    if (!authn.ok) return authn.decision;
    return this.authorize(request, authn.identity, authn.upstreamHeaders);
  }

  authenticate(request: AuthRequest): Authenticated | Promise<Authenticated> {
    const authn = this.#authn;
    if (!authn) return { ok: true, identity: undefined, upstreamHeaders: {} };
    const jwt = authn.jwt ? this.#jwt(request) : ABSENT;
    return jwt instanceof Promise
      ? jwt.then((j) => this.#conclude(request, authn, j))
      : this.#conclude(request, authn, jwt);
  }

  #conclude(request: AuthRequest, authn: Authn, jwt: CredentialState<JwtValid>): Authenticated {
    const key = authn.apiKey ? this.#apiKey(request, authn.apiKey.from) : ABSENT;
    if (jwt.state === "invalid" && !jwt.quiet) this.#failed(request, "jwt", jwt);
    if (key.state === "invalid" && !key.quiet) this.#failed(request, "apiKey", key);
    // A credential that was presented and refused fails the request even when another
    // one is good: a caller does not get to try credentials until one sticks.
    const refused =
      jwt.state === "invalid"
        ? `jwt:${jwt.reason}`
        : key.state === "invalid"
          ? `apiKey:${key.reason}`
          : undefined;
    const missing =
      authn.require === "All"
        ? jwt.state === "absent" || key.state === "absent"
        : jwt.state === "absent" && key.state === "absent";
    if (refused || missing) {
      return {
        ok: false,
        decision: {
          allowed: false,
          status: 401,
          problem: AuthProblem.Unauthorized,
          headers: {
            "www-authenticate": challengeHeader(
              { jwt: authn.jwt !== undefined, apiKey: authn.apiKey !== undefined },
              jwt.state === "invalid",
            ),
          },
          reason: refused ?? "missing",
          rule: undefined,
          identity: undefined,
        },
      };
    }
    const j = jwt.state === "valid" ? jwt.value : undefined;
    const k = key.state === "valid" ? key.value : undefined;
    if (k) this.#deps.usage.record(k.id, this.#deps.now());
    // A token alone: the same verified claims (the provider's cache hands out one object
    // per token) always give the same identity, made once.
    if (j && !k) return this.#byClaims.get(j.claims) ?? this.#identifyToken(j);
    return this.#identify(j, k);
  }

  #identifyToken(j: JwtValid): Authenticated & { ok: true } {
    const identified = this.#identify(j, undefined);
    this.#byClaims.set(j.claims, identified);
    return identified;
  }

  #identify(j: JwtValid | undefined, k: ApiKeyValid | undefined): Authenticated & { ok: true } {
    const methods: AuthMethod[] = [...(j ? (["jwt"] as const) : []), ...(k ? (["apiKey"] as const) : [])];
    const identity: Identity = {
      methods,
      subject: j ? (typeof j.claims.sub === "string" ? j.claims.sub : undefined) : k?.consumer,
      consumer: k?.consumer,
      tenant: k?.tenant,
      scopes: [...new Set([...(j ? scopesOf(j.claims) : []), ...(k?.scopes ?? [])])],
      roles: j ? rolesOf(j.claims, j.provider.config.rolesClaim) : [],
      claims: j?.claims,
      provider: j?.provider.name,
      apiKeyId: k?.id,
    };
    const upstreamHeaders = j ? claimHeaders(j.provider.config.claimToHeaders, j.claims) : {};
    // Shared by every request with the same token (above): nobody may change them.
    return { ok: true, identity: Object.freeze(identity), upstreamHeaders: Object.freeze(upstreamHeaders) };
  }

  #failed(request: AuthRequest, method: AuthMethod, c: { reason: string; credential?: string }) {
    this.#deps.onFailure?.({
      policy: this.id,
      client: request.client,
      method,
      reason: c.reason,
      ...(c.credential !== undefined ? { credential: c.credential } : {}),
    });
  }

  authorize(
    request: AuthRequest,
    identity: Identity | undefined,
    upstreamHeaders: Record<string, string> = {},
  ): AuthDecision {
    const verdict: AuthzVerdict = this.#rules.decide(
      {
        method: request.method,
        path: request.path,
        client: request.client,
        timeMs: this.#deps.now(),
        // Only rules on headers or with `when` conditions read them: no copy otherwise.
        headers: this.#rules.readsHeaders
          ? headerView(request.headers, this.#deps.identityHeaders)
          : NO_HEADERS,
      },
      identity,
    );
    if (verdict.action === "Allow") return { allowed: true, identity, upstreamHeaders, rule: verdict.rule };
    return {
      allowed: false,
      status: 403,
      problem: AuthProblem.Forbidden,
      headers: {},
      reason: "denied",
      rule: verdict.rule,
      identity,
    };
  }

  /**
   * Digests of the credentials this policy would look at in a request, for brute-force
   * blocks on one credential (checked before authentication; called only while one exists).
   */
  presentedDigests(request: Pick<AuthRequest, "headers" | "query">): string[] {
    const out: string[] = [];
    const add = (from: readonly CredentialSource[], bearer: boolean) => {
      const p = presentedCredential(from, request.headers, request.query, bearer);
      if (p.found && p.usable) out.push(credentialDigest(p.value));
    };
    for (const provider of this.#deps.providers) add(provider.config.from, true);
    if (this.#authn?.apiKey) add(this.#authn.apiKey.from, false);
    return out;
  }

  /**
   * #verifyJwt's walk over the providers as far as it goes without verifying a signature:
   * a token a provider verified before is answered at once, and the first signature to
   * check hands the whole walk to #verifyJwt (same order, same outcome).
   */
  #jwt(request: AuthRequest): CredentialState<JwtValid> | Promise<CredentialState<JwtValid>> {
    let presented = false;
    for (const provider of this.#deps.providers) {
      const p = presentedCredential(provider.config.from, request.headers, request.query, true);
      if (!p.found) continue;
      if (!p.usable) return { state: "invalid", reason: "malformed" };
      presented = true;
      const cached = provider.cached(p.value);
      if (cached) return { state: "valid", value: { provider, claims: cached } };
      if (unverifiedIssuer(p.value) === provider.issuer) return this.#verifyJwt(request);
    }
    return presented ? this.#verifyJwt(request) : ABSENT;
  }

  async #verifyJwt(request: AuthRequest): Promise<CredentialState<JwtValid>> {
    let presented: string | undefined;
    let first: JwtOutcome | undefined;
    for (const provider of this.#deps.providers) {
      const p = presentedCredential(provider.config.from, request.headers, request.query, true);
      if (!p.found) continue;
      if (!p.usable) return { state: "invalid", reason: "malformed" };
      presented ??= p.value;
      // Verified by this provider before (so issued by its issuer) and still valid.
      const cached = provider.cached(p.value);
      if (cached) return { state: "valid", value: { provider, claims: cached } };
      // The token names its issuer; only providers of that issuer may judge it.
      if (unverifiedIssuer(p.value) !== provider.issuer) continue;
      const outcome = await provider.verify(p.value);
      if (outcome.ok) return { state: "valid", value: { provider, claims: outcome.claims } };
      first ??= outcome;
    }
    if (presented === undefined) return { state: "absent" };
    const credential = credentialDigest(presented);
    if (!first) return { state: "invalid", reason: "issuer", credential };
    if (first.ok) throw new Error("unreachable");
    return {
      state: "invalid",
      reason: first.reason,
      credential,
      // The IdP being unreachable is not the client's doing: do not count it against them.
      ...(first.reason === "keysUnavailable" ? { quiet: true } : {}),
    };
  }

  #apiKey(request: AuthRequest, from: NonNullable<Authn["apiKey"]>["from"]): CredentialState<ApiKeyValid> {
    const p = presentedCredential(from, request.headers, request.query, false);
    if (!p.found) return { state: "absent" };
    if (!p.usable) return { state: "invalid", reason: "malformed" };
    const outcome = this.#deps.apiKeys.check(p.value, this.namespace, request.client, this.#deps.now());
    if (!outcome.ok)
      return {
        state: "invalid",
        reason: outcome.reason,
        // The key is good from its allowed addresses: count this against the address only.
        ...(outcome.reason === "addressNotAllowed" ? {} : { credential: credentialDigest(p.value) }),
      };
    return { state: "valid", value: outcome.key };
  }
}
