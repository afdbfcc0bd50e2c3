// The data-plane request pipeline, in the order handleRequest runs it:
//   security headers on the response → route (request id, normalised target, Host, route
//   match, client address: pipeline/route.ts) → the rule's security headers → the
//   client's in-flight share → CORS preflight answered here → admission (authentication
//   and authorization, then rate limits: pipeline/admission.ts; skipped for a rule with
//   neither) → forward (redirect answered here, body size, upstream headers, rewrite,
//   pool, endpoint, retries, streaming: pipeline/forward.ts).
// A WebSocket handshake takes the same route, admission and forward stages on its socket.
// Everything per route was prepared at snapshot load; the stages only look things up.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { BruteForceGuard } from "./auth/brute-force.ts";
import { ClientConcurrency } from "./filters/client-concurrency.ts";
import { isPreflight, preflightHeaders } from "./filters/cors.ts";
import {
  SecurityHeaderSet,
  type SecurityHeaderValues,
  setSecurityHeaders,
} from "./filters/security-headers.ts";
import type { Observability, RequestRecord } from "./observability/request-record.ts";
import { type Admission, type AdmissionSettings, admit, needsAdmission } from "./pipeline/admission.ts";
import { type ForwardSettings, forwardRequest, forwardUpgrade } from "./pipeline/forward.ts";
import { type Routed, type RouteSettings, route } from "./pipeline/route.ts";
import { Problem, sendProblem } from "./problem.ts";
import type { Limiter, RuleOutcome } from "./ratelimit/types.ts";
import type { GatewayRuntime } from "./runtime/gateway-runtime.ts";
import { refuseUpgrade, upgradeProblem } from "./upstream/upgrade.ts";

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

/** What a listener hands every request and every upgrade to. */
export interface DataPlane {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const underscores = options.headersWithUnderscores ?? "allow";
  const routing: RouteSettings = { current: options.current, trustedHops: options.trustedHops, underscores };
  const admission: AdmissionSettings = {
    limiter: options.limiter,
    bruteForce: options.bruteForce,
    onFailedOpen: options.onFailedOpen,
  };
  const forwarding: ForwardSettings = {
    proto: options.tls ? "https" : "http",
    trustForwarded: options.trustedHops > 0,
    dropUnderscored: underscores === "drop",
    maxBodyBytes: options.maxBodyBytes,
    bodyIdleMs: options.bodyIdleTimeoutMs ?? 0,
  };
  const perClient = options.maxRequestsPerClient
    ? new ClientConcurrency(options.maxRequestsPerClient)
    : undefined;
  const security = new SecurityHeaderSet(options.securityHeaders ?? {}, options.tls);

  function handleRequest(req: IncomingMessage, res: ServerResponse) {
    const record = options.observability?.begin(req, res);
    setSecurityHeaders(res, security.global);
    const routed = route(req, res, record, routing);
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
    if (!needsAdmission(rule)) return forwardRequest(req, res, routed, undefined, record, forwarding);
    let result: Admission | Promise<Admission>;
    try {
      result = admit(req, routed, record, admission);
    } catch {
      return refuseUnexpected(res, routed);
    }
    // Admission answers at once unless something had to wait (a signature, a store).
    if (!(result instanceof Promise)) return afterAdmission(req, res, routed, record, result);
    result.then(
      (r) => afterAdmission(req, res, routed, record, r),
      () => refuseUnexpected(res, routed),
    );
  }

  function afterAdmission(
    req: IncomingMessage,
    res: ServerResponse,
    routed: Routed,
    record: RequestRecord | undefined,
    result: Admission,
  ) {
    if (res.destroyed) return;
    if (!result.admitted) {
      sendProblem(res, result.problem, result.detail, {
        ...result.headers,
        "x-request-id": routed.requestId,
      });
      return;
    }
    forwardRequest(req, res, routed, result, record, forwarding);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    // Before routing: admission must judge the method and protocol that will be relayed.
    const refused = upgradeProblem(req);
    if (refused) return refuseUpgrade(socket, Problem.BadRequest, refused);
    const routed = route(req, undefined, undefined, routing);
    if (!routed || routed.hit.rule.redirect) {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    if (!needsAdmission(routed.hit.rule))
      return forwardUpgrade(req, socket, head, routed, undefined, forwarding);
    // A WebSocket handshake passes the same admission as any request.
    const admitted = (result: Admission) => {
      if (socket.destroyed) return;
      if (result.admitted) return forwardUpgrade(req, socket, head, routed, result, forwarding);
      refuseUpgrade(socket, result.problem, undefined, result.headers);
    };
    let result: Admission | Promise<Admission>;
    try {
      result = admit(req, routed, undefined, admission);
    } catch {
      return socket.destroy();
    }
    if (result instanceof Promise) result.then(admitted, () => socket.destroy());
    else admitted(result);
  }

  return { handleRequest, handleUpgrade };
}

/** Not expected (admission catches its own failures): refuse rather than let through. */
function refuseUnexpected(res: ServerResponse, routed: Routed) {
  sendProblem(res, Problem.Unauthorized, undefined, { "x-request-id": routed.requestId });
}
