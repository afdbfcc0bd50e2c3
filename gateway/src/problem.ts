// Error responses are application/problem+json (RFC 9457) with a stable `type`, so
// clients and dashboards can tell a routing miss from an upstream failure.
import type { ServerResponse } from "node:http";

export const BASE = "https://sluice.dev/problems/";

export const Problem = {
  BadRequest: { status: 400, type: `${BASE}bad-request`, title: "Bad request" },
  Unauthorized: { status: 401, type: `${BASE}unauthorized`, title: "Authentication required" },
  Forbidden: { status: 403, type: `${BASE}forbidden`, title: "Access denied" },
  RouteNotFound: { status: 404, type: `${BASE}route-not-found`, title: "No route matches the request" },
  RequestBodyTimeout: {
    status: 408,
    type: `${BASE}request-body-timeout`,
    title: "The request body stopped arriving",
  },
  PayloadTooLarge: { status: 413, type: `${BASE}payload-too-large`, title: "Request body too large" },
  QuotaExceeded: { status: 429, type: `${BASE}quota-exceeded`, title: "Rate limit exceeded" },
  ClientConcurrency: {
    status: 429,
    type: `${BASE}client-concurrency-exceeded`,
    title: "Too many requests in flight from this client",
  },
  NoBackend: {
    status: 500,
    type: `${BASE}backend-not-resolved`,
    title: "The route's backend is not available",
  },
  UpstreamFailed: { status: 502, type: `${BASE}upstream-failed`, title: "The upstream failed to answer" },
  NoHealthyEndpoint: { status: 503, type: `${BASE}no-healthy-endpoint`, title: "No healthy endpoint" },
  CircuitOpen: { status: 503, type: `${BASE}circuit-open`, title: "The backend is at capacity" },
  NotReady: { status: 503, type: `${BASE}not-ready`, title: "No configuration is loaded yet" },
  PolicyInvalid: {
    status: 503,
    type: `${BASE}policy-invalid`,
    title: "A policy protecting this route is invalid",
  },
  LimiterUnavailable: {
    status: 503,
    type: `${BASE}rate-limit-unavailable`,
    title: "The rate limiter is unavailable",
  },
  UpstreamTimeout: {
    status: 504,
    type: `${BASE}upstream-timeout`,
    title: "The upstream did not answer in time",
  },
} as const;

export type ProblemKind = (typeof Problem)[keyof typeof Problem];

/** Writes a problem response unless headers were already sent (then the connection is cut). */
export function sendProblem(
  res: ServerResponse,
  problem: ProblemKind,
  detail?: string,
  headers?: Record<string, string>,
) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    type: problem.type,
    title: problem.title,
    status: problem.status,
    ...(detail ? { detail } : {}),
  });
  // Set, not passed to writeHead, so the access log can read the length back.
  res.setHeader("content-length", Buffer.byteLength(body));
  res.writeHead(problem.status, { ...headers, "content-type": "application/problem+json" });
  res.end(body);
}
