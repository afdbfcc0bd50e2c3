// Forwarding one request: pick the backendRef, the pool's endpoint, and stream the request
// and the response through undici's dispatch API. No stream objects, promises or
// per-chunk closures are created on the way: the Attempt object is the undici handler and
// writes straight to the client's response, pausing undici when the client is slow.
//
// Retries happen only when it is safe — nothing of the response reached the client, the
// request body was never read (it cannot be replayed), and the method is idempotent or the
// connection was never made — and only within the pool's retry budget.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { Span } from "@opentelemetry/api";
import type { Dispatcher } from "undici";
import { BackendTimeoutError, ErrorCode } from "../../../core/api/errors.ts";
import { addCorsHeaders } from "../filters/cors.ts";
import { applyHeaderOps, connectionListed, HOP_BY_HOP } from "../filters/headers.ts";
import type { RequestRecord } from "../observability/request-record.ts";
import { endSpan, startAttemptSpan } from "../observability/tracing.ts";
import { Problem, type ProblemKind, sendProblem } from "../problem.ts";
import type { BackendPoolRuntime, EndpointRuntime } from "./backend-pool.ts";
import { hashKeyOf } from "./hash-key.ts";
import { http2Headers } from "./http2-headers.ts";
import type { UpstreamRule } from "./upstream-rule.ts";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const CONNECT_FAILURES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);
// An HTTP/2 RST_STREAM (ERR_HTTP2_STREAM_ERROR) ends one exchange the way a reset
// connection ends it in HTTP/1.1: the same retryOn trigger covers both.
const RESETS = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "ERR_HTTP2_STREAM_ERROR"]);

// Ours is the abort reason when timeouts.backendRequest or timeouts.request passes.
const TIMEOUTS = new Set<string>([
  ErrorCode.SLUICE_BACKEND_TIMEOUT,
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

type FailureKind = "connect-failure" | "reset" | "timeout" | "other";

function failureKind(err: Error & { code?: string }): FailureKind {
  const code = err.code ?? "";
  if (CONNECT_FAILURES.has(code)) return "connect-failure";
  if (RESETS.has(code)) return "reset";
  if (TIMEOUTS.has(code)) return "timeout";
  return "other";
}

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  rule: UpstreamRule;
  /** Path and query sent upstream (after rewrites). */
  path: string;
  /** Upstream request headers, already filtered and extended. */
  headers: Record<string, string | string[]>;
  /** The request body to stream upstream (the request itself, or a size-limiting wrapper). */
  body: Readable | null;
  /** True once the body went over the size limit (the answer is then 413). */
  bodyTooLarge: () => boolean;
  requestId: string;
  /** The client address (for ConsistentHash on sourceIP). */
  client: string;
  /** What the request did, for metrics, the access log and its trace. */
  record?: RequestRecord | undefined;
  /** Added to the response (RateLimit headers from admission). */
  responseHeaders?: Record<string, string> | undefined;
}

/** One try against one endpoint; also the undici dispatch handler. */
class Attempt implements Dispatcher.DispatchHandler {
  readonly forward: Forward;
  readonly endpoint: EndpointRuntime;
  controller: Dispatcher.DispatchController | undefined;
  timer: NodeJS.Timeout | undefined;
  discarding = false;
  settled = false;
  readonly started = performance.now();
  span: Span | undefined;
  status: number | undefined;

  constructor(forward: Forward, endpoint: EndpointRuntime) {
    this.forward = forward;
    this.endpoint = endpoint;
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    if (this.forward.done) controller.abort(new Error("request already answered"));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    const f = this.forward;
    this.status = statusCode;
    if (statusCode >= 500) {
      f.pool.recordFailure(this.endpoint);
      f.exchange.record?.metrics?.upstreamError(f.pool.id, this.endpoint.key, String(statusCode));
    } else f.pool.recordSuccess(this.endpoint);
    if (f.done) return;
    if (f.mayRetry(String(statusCode))) {
      this.discarding = true;
      return;
    }
    f.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.discarding || this.forward.done) return;
    const record = this.forward.exchange.record;
    if (record) record.bytesOut += chunk.length;
    if (!this.forward.exchange.res.write(chunk)) {
      controller.pause();
      this.forward.exchange.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd() {
    if (!this.#settle()) return;
    this.#observe(undefined);
    if (this.discarding) this.forward.retry();
    else this.forward.complete();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error) {
    if (!this.#settle()) return;
    const kind = failureKind(err);
    if (kind === "connect-failure" || kind === "reset") this.forward.pool.recordFailure(this.endpoint);
    // An abort because the client went away or was answered is not the upstream's failure.
    if (!this.forward.done)
      this.forward.exchange.record?.metrics?.upstreamError(this.forward.pool.id, this.endpoint.key, kind);
    this.#observe(kind);
    this.forward.failed(kind, err);
  }

  #observe(error: string | undefined) {
    const record = this.forward.exchange.record;
    if (!record) return;
    const ms = performance.now() - this.started;
    record.upstreamMs += ms;
    record.metrics?.upstreamAttempt(this.forward.pool.id, ms / 1000);
    if (this.span) endSpan(this.span, this.status, error);
  }

  #settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.endpoint.inflight--;
    if (this.timer) clearTimeout(this.timer);
    return true;
  }
}

const FORWARD = Symbol("forward");
type ForwardedResponse = ServerResponse & { [FORWARD]: Forward };

function finishOnClientClose(this: ServerResponse) {
  const forward = (this as ForwardedResponse)[FORWARD];
  if (!forward.done) forward.finish();
}

class Forward {
  readonly exchange: Exchange;
  pool: BackendPoolRuntime;
  current: Attempt | undefined;
  attempts = 0;
  /** Endpoints earlier attempts went to (set on the first retry). */
  tried: EndpointRuntime[] | undefined;
  done = false;
  responseStarted = false;
  timer: NodeJS.Timeout | undefined;
  readonly #safeMethod: boolean;

  constructor(exchange: Exchange, pool: BackendPoolRuntime) {
    this.exchange = exchange;
    this.pool = pool;
    this.#safeMethod = IDEMPOTENT.has(exchange.req.method ?? "");
  }

  start() {
    const { rule, res } = this.exchange;
    this.pool.inflight++;
    // The client went away (or we finished): stop the upstream exchange. One shared
    // listener, no closure per request (a response closes once).
    (res as ForwardedResponse)[FORWARD] = this;
    res.on("close", finishOnClientClose);
    if (rule.requestTimeoutMs !== undefined) {
      this.timer = setTimeout(() => this.#timedOut(), rule.requestTimeoutMs);
    }
    this.send();
  }

  send() {
    if (this.done) return;
    const { req, rule, path, headers, body } = this.exchange;
    // Only a retry has endpoints to avoid; the first attempt allocates nothing.
    if (this.current) {
      this.tried ??= [];
      this.tried.push(this.current.endpoint);
    }
    if (this.pool.closed) this.#followReload();
    const { pool, exchange } = this;
    const hashKey = pool.config.loadBalancing.hashOn
      ? hashKeyOf(pool, exchange.req, exchange.client, exchange.res)
      : undefined;
    const endpoint = pool.pick(hashKey, this.tried);
    if (!endpoint) {
      this.answer(Problem.NoHealthyEndpoint, `no healthy endpoint in BackendPool ${this.pool.id}`);
      return;
    }
    this.attempts++;
    endpoint.inflight++;
    const attempt = new Attempt(this, endpoint);
    this.current = attempt;
    const record = exchange.record;
    if (record) {
      record.attempts = this.attempts;
      record.pool = pool.id;
      record.endpoint = endpoint.key;
      if (this.attempts > 1) record.metrics?.retry(rule.route);
      if (record.tracer && record.span) {
        attempt.span = startAttemptSpan(
          record.tracer,
          record.span,
          {
            "sluice.pool": pool.id,
            "server.address": endpoint.address,
            "server.port": endpoint.port,
            "sluice.attempt": this.attempts,
          },
          headers,
        );
      }
    }
    if (rule.backendTimeoutMs !== undefined) {
      attempt.timer = setTimeout(
        () => attempt.controller?.abort(new BackendTimeoutError("backend request timeout")),
        rule.backendTimeoutMs,
      );
    }
    endpoint.dispatcher.dispatch(
      {
        path,
        method: (req.method ?? "GET") as Dispatcher.HttpMethod,
        headers: pool.config.connection.http2 ? http2Headers(headers) : headers,
        body,
      },
      attempt,
    );
  }

  /**
   * The pool was replaced by a reload while this request waited to retry (endpoints
   * changed, e.g. pods scaled away): its connections are closing and would refuse the
   * attempt. Continue in its successor, avoiding the same endpoints there.
   */
  #followReload() {
    let next = this.pool.successor;
    while (next?.closed && next.successor) next = next.successor;
    if (!next || next.closed) return;
    this.pool.inflight--;
    next.inflight++;
    this.tried = this.tried?.flatMap((e) => next.endpoints.find((x) => x.key === e.key) ?? []);
    this.pool = next;
  }

  /** Whether a failure of this kind may be retried now. */
  mayRetry(kind: string): boolean {
    const retry = this.exchange.rule.retry;
    if (!retry || this.attempts > retry.attempts || !retry.on.has(kind) || this.responseStarted) return false;
    const { body } = this.exchange;
    if (body?.readableDidRead) return false;
    if (!this.#safeMethod && kind !== "connect-failure") return false;
    return this.pool.retryAllowed();
  }

  retry() {
    const retry = this.exchange.rule.retry;
    if (!retry || this.done) return;
    // Exponential backoff with full jitter, capped.
    const delay = Math.min(retry.maxMs, retry.baseMs * 2 ** (this.attempts - 1)) * (0.5 + Math.random() / 2);
    this.pool.retriesInflight++;
    setTimeout(() => {
      this.pool.retriesInflight--;
      this.send();
    }, delay).unref();
  }

  failed(kind: FailureKind, err: Error) {
    if (this.done) return;
    if (this.responseStarted) {
      // Part of the response is out: the only honest thing left is to cut the connection.
      this.exchange.res.destroy(err);
      this.finish();
      return;
    }
    // An attempt that ran out of backendRequest time counts as a 504 for retryOn.
    const trigger = kind === "timeout" ? "504" : kind;
    if (this.mayRetry(trigger)) {
      this.retry();
      return;
    }
    if (this.exchange.bodyTooLarge())
      this.answer(Problem.PayloadTooLarge, "the request body is over the limit");
    else if (kind === "timeout")
      this.answer(Problem.UpstreamTimeout, `BackendPool ${this.pool.id} did not answer in time`);
    else this.answer(Problem.UpstreamFailed, `BackendPool ${this.pool.id}: ${kind}`);
  }

  writeHead(statusCode: number, upstream: Record<string, string | string[] | undefined>) {
    const { res, rule, requestId, req } = this.exchange;
    const listed = connectionListed(upstream.connection);
    const headers: OutgoingHttpHeaders = {};
    for (const name in upstream) {
      if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
      headers[name] = upstream[name];
    }
    if (rule.responseHeaders) applyHeaderOps(headers, rule.responseHeaders);
    if (this.exchange.responseHeaders) Object.assign(headers, this.exchange.responseHeaders);
    if (rule.cors) addCorsHeaders(rule.cors, req.headers.origin, headers);
    // A sticky-session cookie the gateway issued (ConsistentHash on a cookie) joins the
    // upstream's own Set-Cookie; writeHead would otherwise replace it.
    const issued = res.getHeader("set-cookie");
    if (issued !== undefined)
      headers["set-cookie"] = [headers["set-cookie"] ?? [], issued].flat().map(String);
    headers["x-request-id"] = requestId;
    this.responseStarted = true;
    res.writeHead(statusCode, headers);
  }

  complete() {
    if (this.done) return;
    this.exchange.res.end();
    this.finish();
  }

  answer(problem: ProblemKind, detail: string) {
    if (this.done) return;
    sendProblem(this.exchange.res, problem, detail, { "x-request-id": this.exchange.requestId });
    this.finish();
  }

  #timedOut() {
    if (this.done) return;
    if (this.responseStarted) {
      this.exchange.res.destroy(new BackendTimeoutError("request timeout"));
      this.finish();
    } else {
      this.answer(
        Problem.UpstreamTimeout,
        `the route's request timeout (${this.exchange.rule.requestTimeoutMs} ms) passed`,
      );
    }
  }

  finish() {
    if (this.done) return;
    this.done = true;
    this.pool.inflight--;
    if (this.timer) clearTimeout(this.timer);
    const attempt = this.current;
    if (attempt && !attempt.settled) attempt.controller?.abort(new Error("client request finished"));
  }
}

/** Forwards the exchange to the rule's backends; answers with a problem when it cannot. */
export function forward(exchange: Exchange) {
  const choice = exchange.rule.pickBackend();
  const pool = choice?.pool;
  if (!pool) {
    sendProblem(
      exchange.res,
      Problem.NoBackend,
      `route ${exchange.rule.route} has no resolved backend for this request`,
      {
        "x-request-id": exchange.requestId,
      },
    );
    return;
  }
  if (pool.atCapacity()) {
    exchange.record?.metrics?.circuitRefused(pool.id);
    sendProblem(
      exchange.res,
      Problem.CircuitOpen,
      `BackendPool ${pool.id} is at its circuit-breaker limits`,
      {
        "x-request-id": exchange.requestId,
      },
    );
    return;
  }
  new Forward(exchange, pool).start();
}
