// The data-plane request pipeline, in order:
//   normalise the target → route (host, path, method, headers, query) → request id →
//   redirect / CORS preflight answered here → upstream headers (hop-by-hop removed,
//   X-Forwarded-*, modifiers) → rewrite → forward (pool, endpoint, retries, streaming).
// Everything per route was prepared at snapshot load; this file only looks things up.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Duplex, pipeline, Transform } from "node:stream";
import { normalizeRequestTarget } from "../../core/api/normalize-path.ts";
import type { BruteForceGuard } from "./auth/brute-force.ts";
import type { Identity } from "./auth/identity.ts";
import { watchBodyIdle } from "./filters/body-idle.ts";
import { ClientConcurrency } from "./filters/client-concurrency.ts";
import { isPreflight, preflightHeaders } from "./filters/cors.ts";
import { clientAddress, peerAddress, setForwardedHeaders } from "./filters/forwarded.ts";
import { applyHeaderOps, endToEnd, underscoredHeader } from "./filters/headers.ts";
import { requestId } from "./filters/request-id.ts";
import { redirectLocation, rewritePath } from "./filters/rewrite.ts";
import {
  SecurityHeaderSet,
  type SecurityHeaderValues,
  setSecurityHeaders,
} from "./filters/security-headers.ts";
import type { Observability, RequestRecord } from "./observability/request-record.ts";
import { Problem, type ProblemKind, sendProblem } from "./problem.ts";
import { checksForRequest } from "./ratelimit/checks-for-request.ts";
import { rateLimitOutcome } from "./ratelimit/outcome.ts";
import type { Limiter, RuleOutcome } from "./ratelimit/types.ts";
import type { GatewayRuntime } from "./runtime/gateway-runtime.ts";
import { type RouteHit, routeHost } from "./runtime/router.ts";
import type { RuleRuntime } from "./runtime/rule-runtime.ts";
import { hashKeyOf } from "./upstream/hash-key.ts";
import { forward } from "./upstream/proxy.ts";
import { proxyUpgrade, refuseUpgrade, upgradeProblem } from "./upstream/upgrade.ts";

const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::[0-9]{1,5})?$/;

export interface DataPlaneOptions {
  /** The runtime of the snapshot being served; undefined until the first one loads. */
  current: () => GatewayRuntime | undefined;
  trustedHops: number;
  maxBodyBytes: number;
  tls: boolean;
  /** Metrics, access log and traces; undefined when all are off. */
  observability?: Observability;
  /** Rate limits (Redis or in memory); routes with RateLimitPolicies are not limited without one. */
  limiter?: Limiter;
  /** Refuses clients past the authentication-failure limit. */
  bruteForce?: BruteForceGuard;
  /** Rules whose store failed under failureMode Open: the request went on unlimited. */
  onFailedOpen?: (outcome: RuleOutcome) => void;
  /** Longest pause in a request body before a 408 (--body-idle-timeout-ms); 0 or unset: none. */
  bodyIdleTimeoutMs?: number;
  /** Most requests in flight per client address (--max-requests-per-client); 0 or unset: none. */
  maxRequestsPerClient?: number;
  /** Header names with '_' (--headers-with-underscores); unset: allow. */
  headersWithUnderscores?: "drop" | "reject" | "allow";
  /** Security headers for every response (--security-headers and the values it names); unset: none. */
  securityHeaders?: Partial<SecurityHeaderValues>;
}

/** Why admission refused a request: the problem, its headers and (for 429/503) a detail. */
interface Refusal {
  problem: ProblemKind;
  headers: Record<string, string>;
  detail?: string;
}

export interface Routed {
  hit: RouteHit<RuleRuntime>;
  path: string;
  query: string;
  host: string;
  requestId: string;
  client: string;
  headers: Record<string, string | string[]>;
  /** Headers admission adds to the response (RateLimit, RateLimit-Policy). */
  responseHeaders?: Record<string, string>;
}

/** How many Host lines the request had (Node keeps only the first in req.headers). */
function hostCount(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") n++;
  }
  return n;
}

/** Passes the body through, failing the stream once it exceeds `max` bytes. */
function limitBody(req: IncomingMessage, max: number) {
  let seen = 0;
  const state = { exceeded: false, stream: undefined as unknown as Transform };
  state.stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) {
        state.exceeded = true;
        callback(new Error(`request body over ${max} bytes`));
      } else callback(null, chunk);
    },
  });
  pipeline(req, state.stream, () => {});
  return state;
}

export function createDataPlane(options: DataPlaneOptions) {
  const proto = options.tls ? "https" : "http";
  const perClient = options.maxRequestsPerClient
    ? new ClientConcurrency(options.maxRequestsPerClient)
    : undefined;
  const underscores = options.headersWithUnderscores ?? "allow";
  const bodyIdleMs = options.bodyIdleTimeoutMs ?? 0;
  const security = new SecurityHeaderSet(options.securityHeaders ?? {}, options.tls);

  /** Routes a request; answers it (and returns undefined) when it cannot be routed. */
  function route(
    req: IncomingMessage,
    res: ServerResponse | undefined,
    record?: RequestRecord,
  ): Routed | undefined {
    const runtime = options.current();
    const id = requestId(req.headers["x-request-id"]);
    if (record) record.requestId = id;
    const fail = (problem: (typeof Problem)[keyof typeof Problem], detail: string) => {
      if (res) sendProblem(res, problem, detail, { "x-request-id": id });
      return undefined;
    };
    if (!runtime) return fail(Problem.NotReady, "the gateway has not loaded a snapshot yet");
    const target = normalizeRequestTarget(req.url ?? "");
    if (typeof target === "string") return fail(Problem.BadRequest, `request path refused: ${target}`);
    if (record) record.path = target.path;
    const hostHeader = req.headers.host;
    // RFC 9112 §3.2: exactly one Host, a valid uri-host[:port]. Two Host lines could be
    // read differently by a proxy in front; a quote or '/' would leak into headers.
    if (hostCount(req.rawHeaders) !== 1 || !HOST_VALUE.test(hostHeader ?? "")) {
      return fail(Problem.BadRequest, "exactly one valid Host header is required");
    }
    const host = routeHost(hostHeader);
    const method = req.method ?? "GET";
    const hit = runtime.router.match({
      host,
      path: target.path,
      method,
      headers: req.headers,
      query: target.query,
    });
    if (!hit) return fail(Problem.RouteNotFound, `${method} ${target.path} on host "${host}"`);
    // Fail closed: a policy meant to protect this rule is invalid and has no good version
    // to keep. The route is never served with less protection than its owner asked for.
    if (hit.rule.refused) {
      if (record) record.route = hit.rule.route;
      return fail(
        Problem.PolicyInvalid,
        "the route's configuration is invalid; its owner can read why in the policy's status",
      );
    }
    const peer = peerAddress(req.socket.remoteAddress);
    const client = clientAddress(peer, req.headers["x-forwarded-for"], options.trustedHops);
    const rule = hit.rule;
    if (record) {
      record.route = rule.route;
      record.client = client;
    }
    if (underscores === "reject") {
      const name = underscoredHeader(req.headers);
      if (name !== undefined)
        return fail(Problem.BadRequest, `header names with '_' are refused (${name}); use '-'`);
    }
    const headers = endToEnd(req.headers, rule.dropHeaders, underscores === "drop");
    headers.host = rule.rewrite?.hostname ?? hostHeader ?? host;
    setForwardedHeaders(headers, req.headers, peer, proto, hostHeader, options.trustedHops > 0);
    headers["x-request-id"] = id;
    if (rule.requestHeaders) applyHeaderOps(headers, rule.requestHeaders);
    return {
      hit,
      path: target.path,
      query: target.query,
      host: hostHeader ?? host,
      requestId: id,
      client,
      headers,
    };
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse) {
    const record = options.observability?.begin(req, res);
    setSecurityHeaders(res, security.global);
    const routed = route(req, res, record);
    if (!routed) return;
    const rule = routed.hit.rule;
    if (rule.securityHeaders) security.applyRule(res, rule);
    // Before admission and the upstream: a client over its share holds nothing.
    if (perClient && !perClient.enter(routed.client, res)) {
      sendProblem(
        res,
        Problem.ClientConcurrency,
        `at most ${perClient.limit} requests in flight per client`,
        {
          "retry-after": "1",
          connection: "close",
          "x-request-id": routed.requestId,
        },
      );
      return;
    }
    // A CORS preflight carries no credentials (browsers never send them): answered before
    // authentication, or no cross-origin call to a protected route could ever start.
    if (rule.cors && isPreflight(req.method ?? "", req.headers)) {
      res.writeHead(204, {
        ...preflightHeaders(rule.cors, req.headers),
        "x-request-id": routed.requestId,
        "content-length": 0,
      });
      res.end();
      return;
    }
    if (!rule.auth && rule.rateLimits.length === 0) return admitted(req, res, routed, record);
    admit(req, routed, record).then(
      (refusal) => {
        if (res.destroyed) return;
        if (refusal) {
          sendProblem(res, refusal.problem, refusal.detail, {
            ...refusal.headers,
            "x-request-id": routed.requestId,
          });
          return;
        }
        admitted(req, res, routed, record);
      },
      // Not expected (admission catches its own failures): refuse rather than let through.
      () => sendProblem(res, Problem.Unauthorized, undefined, { "x-request-id": routed.requestId }),
    );
  }

  /**
   * Admission, in the order of the design: authentication and authorization (the rule's
   * AuthzPolicy), then rate limits keyed by what authentication established. Resolves
   * undefined when the request may go on — identity headers and RateLimit headers set on
   * `routed` — or with the refusal.
   */
  async function admit(
    req: IncomingMessage,
    routed: Routed,
    record: RequestRecord | undefined,
  ): Promise<Refusal | undefined> {
    const rule = routed.hit.rule;
    let identity: Identity | undefined;
    const policy = rule.auth;
    if (policy) {
      // A blocked address, or a blocked credential presented to this policy: refused before
      // any credential is verified. Never by consumer (brute-force.ts says why).
      const wait =
        options.bruteForce?.retryAfter(routed.client, policy.id, () =>
          policy.presentedDigests({ headers: req.headers, query: routed.query }),
        ) ?? 0;
      if (wait > 0) return bruteForceRefusal(wait, policy.id, record);
      const decision = await policy.check({
        method: req.method ?? "GET",
        path: routed.path,
        query: routed.query,
        headers: req.headers,
        client: routed.client,
      });
      if (!decision.allowed) {
        record?.metrics?.authFailure(policy.id, decision.reason);
        if (record) record.auth = `denied:${decision.reason}`;
        return { problem: decision.problem, headers: decision.headers };
      }
      identity = decision.identity;
      if (record && identity) {
        record.auth = identity.methods.join("+");
        record.consumer = identity.consumer ?? identity.subject;
        record.tenant = identity.tenant;
      }
      Object.assign(routed.headers, decision.upstreamHeaders);
    }
    const limiter = options.limiter;
    if (rule.rateLimits.length === 0 || !limiter) return undefined;
    const checks = checksForRequest(rule.rateLimits, {
      clientIp: routed.client,
      apiKeyId: identity?.apiKeyId,
      consumer: identity?.consumer ?? identity?.subject,
      tenant: identity?.tenant,
      claims: identity?.claims,
      headers: req.headers,
    });
    const policyOf = (id: string) => rule.rateLimits.find((p) => p.id === id);
    const decision = await limiter.check(checks);
    const outcome = rateLimitOutcome(decision, policyOf);
    for (const o of outcome.failedOpen) options.onFailedOpen?.(o);
    if (record) {
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
    if (outcome.action === "refuse")
      return { problem: outcome.problem, headers: outcome.headers, detail: outcome.detail };
    routed.responseHeaders = outcome.headers;
    return undefined;
  }

  /** A 429 for an address or credential blocked after too many refused credentials. */
  function bruteForceRefusal(wait: number, policyId: string, record: RequestRecord | undefined): Refusal {
    record?.metrics?.authFailure(policyId, "blocked");
    if (record) record.auth = "blocked";
    return {
      problem: Problem.QuotaExceeded,
      headers: { "retry-after": String(wait) },
      detail: `too many failed authentication attempts; retry in ${wait} s`,
    };
  }

  /** The request passed admission: redirect it, or forward it to the rule's backends. */
  function admitted(
    req: IncomingMessage,
    res: ServerResponse,
    routed: Routed,
    record: RequestRecord | undefined,
  ) {
    const { hit, requestId: id } = routed;
    const rule = hit.rule;
    if (rule.redirect) {
      const location = redirectLocation(rule.redirect, {
        proto,
        host: routed.host,
        path: routed.path,
        query: routed.query,
      });
      res.writeHead(rule.redirect.statusCode, { location, "x-request-id": id, "content-length": 0 });
      res.end();
      return;
    }
    const length = req.headers["content-length"];
    const chunked = req.headers["transfer-encoding"] !== undefined;
    if (options.maxBodyBytes > 0 && length !== undefined && Number(length) > options.maxBodyBytes) {
      sendProblem(res, Problem.PayloadTooLarge, `at most ${options.maxBodyBytes} bytes`, {
        connection: "close",
      });
      return;
    }
    const upstreamPath = rewritePath(routed.path, rule.rewrite?.path, hit.prefix) + routed.query;
    // undici refuses Expect; Node has already answered "100 Continue" to the client.
    delete routed.headers.expect;
    const hasBody = chunked || (length !== undefined && length !== "0");
    // A chunked body has no announced length: count it on the way through.
    const limited =
      hasBody && chunked && options.maxBodyBytes > 0 ? limitBody(req, options.maxBodyBytes) : undefined;
    if (hasBody) watchBodyIdle(req, res, bodyIdleMs, id);
    forward({
      req,
      res,
      rule,
      path: upstreamPath,
      headers: routed.headers,
      body: limited?.stream ?? (hasBody ? req : null),
      bodyTooLarge: limited ? () => limited.exceeded : () => false,
      requestId: id,
      client: routed.client,
      record,
      responseHeaders: routed.responseHeaders,
    });
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    // Before routing: admission must judge the method and protocol that will be relayed.
    const refused = upgradeProblem(req);
    if (refused) return refuseUpgrade(socket, Problem.BadRequest, refused);
    const routed = route(req, undefined);
    if (!routed || routed.hit.rule.redirect) {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    const rule = routed.hit.rule;
    const go = () => {
      const upstreamPath = rewritePath(routed.path, rule.rewrite?.path, routed.hit.prefix) + routed.query;
      proxyUpgrade(req, socket, head, rule, upstreamPath, routed.headers, (pool) =>
        hashKeyOf(pool, req, routed.client),
      );
    };
    if (!rule.auth && rule.rateLimits.length === 0) return go();
    // A WebSocket handshake passes the same admission as any request.
    admit(req, routed, undefined).then(
      (refusal) => {
        if (socket.destroyed) return;
        if (!refusal) return go();
        const body = JSON.stringify({
          type: refusal.problem.type,
          title: refusal.problem.title,
          status: refusal.problem.status,
        });
        const extra = Object.entries(refusal.headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("");
        socket.end(
          `HTTP/1.1 ${refusal.problem.status} ${refusal.problem.title}\r\ncontent-type: application/problem+json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
        );
      },
      () => socket.destroy(),
    );
  }

  return { handleRequest, handleUpgrade };
}
