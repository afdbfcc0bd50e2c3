// Stage 2, admission, in the order of the design: authentication and authorization (the
// rule's AuthzPolicy), then rate limits keyed by what authentication established. It reads
// the routed request and returns what it decided; it writes nothing the later stages read
// (only the request's record, for metrics and the access log).
import type { IncomingMessage } from "node:http";
import type { AuthDecision } from "../auth/auth-policy.ts";
import type { BruteForceGuard } from "../auth/brute-force.ts";
import type { Identity } from "../auth/identity.ts";
import type { RequestRecord } from "../observability/request-record.ts";
import { Problem, type ProblemKind } from "../problem.ts";
import { checksForRequest } from "../ratelimit/checks-for-request.ts";
import { type RateLimitOutcome, rateLimitOutcome } from "../ratelimit/outcome.ts";
import type { LimitDecision, Limiter, RuleOutcome } from "../ratelimit/types.ts";
import type { RuleRuntime } from "../runtime/rule-runtime.ts";
import type { Routed } from "./route.ts";

/** What admission needs, fixed when the data plane is created. */
export interface AdmissionSettings {
  /** Rate limits (Redis or in memory); routes with RateLimitPolicies are not limited without one. */
  limiter?: Limiter | undefined;
  /** Refuses clients past the authentication-failure limit. */
  bruteForce?: BruteForceGuard | undefined;
  /** Rules whose store failed under failureMode Open: the request went on unlimited. */
  onFailedOpen?: ((outcome: RuleOutcome) => void) | undefined;
}

/** The request may go on, with what admission established. */
export interface Admitted {
  admitted: true;
  /** Who authentication says the client is; undefined when the rule does not authenticate. */
  identity: Identity | undefined;
  /** Headers for the upstream request (the policy's claimToHeaders). */
  upstreamHeaders: Record<string, string> | undefined;
  /** Headers for the response (RateLimit, RateLimit-Policy). */
  responseHeaders: Record<string, string> | undefined;
}

/** The request is refused: the problem, its headers and (for 429/503) a detail. */
export interface Refused {
  admitted: false;
  problem: ProblemKind;
  headers: Record<string, string>;
  detail?: string | undefined;
}

export type Admission = Admitted | Refused;

/** True when the rule has something to admit by; the plain path skips this stage. */
export function needsAdmission(rule: RuleRuntime): boolean {
  return rule.auth !== undefined || rule.rateLimits.length > 0;
}

/**
 * Judges a routed request. Answers at once when nothing has to wait (a token verified
 * before, an API key, no limits), else with a promise (a signature to verify, a limit to
 * ask the store): the usual request costs no promise chain of its own here. Never rejects;
 * a throw is a failure of its own, which the caller turns into a refusal.
 */
export function admit(
  req: IncomingMessage,
  routed: Routed,
  record: RequestRecord | undefined,
  settings: AdmissionSettings,
): Admission | Promise<Admission> {
  const policy = routed.hit.rule.auth;
  if (!policy) return limit(req, routed, record, settings, undefined, undefined);
  // A blocked address, or a blocked credential presented to this policy: refused before
  // any credential is verified. Never by consumer (brute-force.ts says why).
  const wait =
    settings.bruteForce?.retryAfter(routed.client, policy.id, () =>
      policy.presentedDigests({ headers: req.headers, query: routed.query }),
    ) ?? 0;
  if (wait > 0) return bruteForceRefusal(wait, policy.id, record);
  const decision = policy.check({
    method: req.method ?? "GET",
    path: routed.path,
    query: routed.query,
    headers: req.headers,
    client: routed.client,
  });
  return decision instanceof Promise
    ? decision.then((d) => authenticated(req, routed, record, settings, policy.id, d))
    : authenticated(req, routed, record, settings, policy.id, decision);
}

/** After the policy's decision: refused, or on to the rate limits with the identity. */
function authenticated(
  req: IncomingMessage,
  routed: Routed,
  record: RequestRecord | undefined,
  settings: AdmissionSettings,
  policyId: string,
  decision: AuthDecision,
): Admission | Promise<Admission> {
  if (!decision.allowed) {
    record?.metrics?.authFailure(policyId, decision.reason);
    if (record) record.auth = `denied:${decision.reason}`;
    return { admitted: false, problem: decision.problem, headers: decision.headers };
  }
  const identity = decision.identity;
  if (record && identity) {
    record.auth = identity.methods.join("+");
    record.consumer = identity.consumer ?? identity.subject;
    record.tenant = identity.tenant;
  }
  return limit(req, routed, record, settings, identity, decision.upstreamHeaders);
}

/** The rate limits, keyed by what authentication established. */
function limit(
  req: IncomingMessage,
  routed: Routed,
  record: RequestRecord | undefined,
  settings: AdmissionSettings,
  identity: Identity | undefined,
  upstreamHeaders: Record<string, string> | undefined,
): Admission | Promise<Admission> {
  const rule = routed.hit.rule;
  const limiter = settings.limiter;
  if (rule.rateLimits.length === 0 || !limiter)
    return { admitted: true, identity, upstreamHeaders, responseHeaders: undefined };
  const checks = checksForRequest(rule.rateLimits, {
    clientIp: routed.client,
    apiKeyId: identity?.apiKeyId,
    consumer: identity?.consumer ?? identity?.subject,
    tenant: identity?.tenant,
    claims: identity?.claims,
    headers: req.headers,
  });
  return limiter.check(checks).then((decision): Admission => {
    const policyOf = (id: string) => rule.rateLimits.find((p) => p.id === id);
    const outcome = rateLimitOutcome(decision, policyOf);
    for (const o of outcome.failedOpen) settings.onFailedOpen?.(o);
    if (record) recordRateLimit(record, decision, outcome, policyOf);
    if (outcome.action === "refuse")
      return { admitted: false, problem: outcome.problem, headers: outcome.headers, detail: outcome.detail };
    return { admitted: true, identity, upstreamHeaders, responseHeaders: outcome.headers };
  });
}

/** Counts each rule's result and sets the access log's rateLimit field. */
function recordRateLimit(
  record: RequestRecord,
  decision: LimitDecision,
  outcome: RateLimitOutcome,
  policyOf: (id: string) => { failureMode?: string } | undefined,
) {
  for (const o of decision.rules) {
    const closed = policyOf(o.policyId)?.failureMode === "Closed";
    const result =
      o.status === "allowed"
        ? "allowed"
        : o.status === "refused"
          ? o.blocked
            ? "blocked"
            : "limited"
          : closed
            ? "store_failed_closed"
            : "store_failed_open";
    record.metrics?.rateLimit(o.policyId, o.rule, result);
  }
  record.rateLimit =
    outcome.action === "refuse"
      ? outcome.problem.status === 429
        ? "limited"
        : "store_failed_closed"
      : outcome.failedOpen.length > 0
        ? "store_failed_open"
        : "allowed";
}

/** A 429 for an address or credential blocked after too many refused credentials. */
function bruteForceRefusal(wait: number, policyId: string, record: RequestRecord | undefined): Refused {
  record?.metrics?.authFailure(policyId, "blocked");
  if (record) record.auth = "blocked";
  return {
    admitted: false,
    problem: Problem.QuotaExceeded,
    headers: { "retry-after": String(wait) },
    detail: `too many failed authentication attempts; retry in ${wait} s`,
  };
}
