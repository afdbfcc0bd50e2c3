// What one request did, filled in as it goes through the pipeline and read once when its
// response closes: the Prometheus samples, the access-log line and the end of its span
// all come from this one record, so they cannot disagree.
// The access log carries no header values and no query string: credentials (Authorization,
// cookies, API keys in a header or in the query) never reach a log line.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Span, Tracer } from "@opentelemetry/api";
import { type GatewayMetrics, methodLabel, NO_ROUTE } from "./gateway-metrics.ts";
import { endSpan, startServerSpan } from "./tracing.ts";

/** A client that went away before its response ended (as nginx logs it). */
export const CLIENT_CLOSED = 499;

export class RequestRecord {
  readonly started = performance.now();
  readonly method: string;
  route = NO_ROUTE;
  path = "";
  requestId = "";
  client = "";
  pool: string | undefined;
  endpoint: string | undefined;
  /** Summed over attempts. */
  upstreamMs = 0;
  attempts = 0;
  bytesIn: number | undefined;
  bytesOut = 0;
  consumer: string | undefined;
  tenant: string | undefined;
  /** e.g. "allowed", "limited:shop/limits/per-client", "store_failed_open". */
  rateLimit: string | undefined;
  /** e.g. "jwt", "apiKey", "denied:invalid_token". */
  auth: string | undefined;
  span: Span | undefined;
  readonly tracer: Tracer | undefined;
  readonly metrics: GatewayMetrics | undefined;

  constructor(method: string, tracer: Tracer | undefined, metrics: GatewayMetrics | undefined) {
    this.method = method;
    this.tracer = tracer;
    this.metrics = metrics;
  }
}

export interface ObservabilityOptions {
  metrics: GatewayMetrics | undefined;
  /** Where access-log lines go (a pino destination, or any stream in tests). */
  accessLog: { write(line: string): unknown } | undefined;
  tracer: Tracer | undefined;
}

export class Observability {
  readonly metrics: GatewayMetrics | undefined;
  readonly #accessLog: ObservabilityOptions["accessLog"];
  readonly #tracer: Tracer | undefined;

  constructor(o: ObservabilityOptions) {
    this.metrics = o.metrics;
    this.#accessLog = o.accessLog;
    this.#tracer = o.tracer;
  }

  /** Starts the record of a request; undefined when metrics, access log and tracing are all off. */
  begin(req: IncomingMessage, res: ServerResponse): RequestRecord | undefined {
    if (!this.metrics && !this.#accessLog && !this.#tracer) return undefined;
    const record = new RequestRecord(req.method ?? "GET", this.#tracer, this.metrics);
    const length = req.headers["content-length"];
    if (length !== undefined) record.bytesIn = Number(length);
    if (this.#tracer) record.span = startServerSpan(this.#tracer, `${record.method}`, req.headers);
    // A response closes once: `on` spares the wrapper and removal `once` costs per request.
    res.on("close", () => this.#finish(record, res));
    return record;
  }

  #finish(record: RequestRecord, res: ServerResponse) {
    const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
    const ms = performance.now() - record.started;
    // Proxied bodies are counted as they pass; the gateway's own answers announce their length.
    if (record.bytesOut === 0) record.bytesOut = Number(res.getHeader("content-length") ?? 0);
    this.metrics?.request({
      route: record.route,
      method: methodLabel(record.method),
      status,
      seconds: ms / 1000,
    });
    const span = record.span;
    if (span) {
      span.updateName(`${record.method} ${record.route}`);
      span.setAttributes({
        "http.request.method": record.method,
        "url.path": record.path,
        "sluice.route": record.route,
        ...(record.pool ? { "sluice.pool": record.pool } : {}),
        ...(record.consumer ? { "sluice.consumer": record.consumer } : {}),
        ...(record.rateLimit ? { "sluice.ratelimit": record.rateLimit } : {}),
        ...(record.auth ? { "sluice.auth": record.auth } : {}),
      });
      endSpan(span, status);
    }
    if (this.#accessLog) this.#accessLog.write(accessLine(record, status, ms, span?.spanContext().traceId));
  }
}

/**
 * One access-log line in pino's format (level 30, ISO time), written out field by field:
 * a generic serializer walking an object per request cost most of the logging's share of
 * the proxy's CPU. Strings that may come from clients (path, client address, consumer,
 * tenant) go through JSON.stringify; the rest cannot hold a quote, a backslash or a control
 * character — route and pool names are Kubernetes names, the method passed Node's parser,
 * the request id matched request-id.ts's SANE pattern, the endpoint is an address and port
 * — and are written as they are. Absent fields are left out.
 */
function accessLine(r: RequestRecord, status: number, ms: number, traceId: string | undefined): string {
  let line = `{"level":30,"time":"${isoNow()}","msg":"access","requestId":"${r.requestId}"`;
  if (traceId !== undefined) line += `,"traceId":"${traceId}"`;
  line += `,"route":"${r.route}","method":"${r.method}","path":${JSON.stringify(r.path)}`;
  line += `,"status":${status},"durationMs":${msText(ms)}`;
  if (r.attempts > 0) line += `,"upstreamMs":${msText(r.upstreamMs)}`;
  line += `,"attempts":${r.attempts}`;
  if (r.bytesIn !== undefined && Number.isFinite(r.bytesIn)) line += `,"bytesIn":${r.bytesIn}`;
  line += `,"bytesOut":${r.bytesOut}`;
  if (r.endpoint !== undefined) line += `,"upstream":"${r.endpoint}"`;
  if (r.pool !== undefined) line += `,"pool":"${r.pool}"`;
  line += `,"client":${JSON.stringify(r.client)}`;
  if (r.consumer !== undefined) line += `,"consumer":${JSON.stringify(r.consumer)}`;
  if (r.tenant !== undefined) line += `,"tenant":${JSON.stringify(r.tenant)}`;
  if (r.rateLimit !== undefined) line += `,"rateLimit":${JSON.stringify(r.rateLimit)}`;
  if (r.auth !== undefined) line += `,"auth":${JSON.stringify(r.auth)}`;
  return `${line}}\n`;
}

/**
 * The ISO time of the current millisecond. Lines of one millisecond share one string; the
 * date and time up to the second are formatted once a second and the milliseconds appended
 * (toISOString per line cost more than the rest of the time field).
 */
let isoMs = -1;
let iso = "";
let isoSecond = Number.NaN;
let isoPrefix = "";
function isoNow(): string {
  return isoTime(Date.now());
}

export function isoTime(ms: number): string {
  if (ms === isoMs) return iso;
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-11-22T07:19:12."
  }
  const frac = ms - second * 1000;
  isoMs = ms;
  iso = `${isoPrefix}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}Z`;
  return iso;
}

/**
 * Milliseconds with three decimals ("12.407", "3.050"), from integers: a double's shortest
 * decimal form costs several times an integer's, and a line has two of them.
 */
export function msText(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!Number.isFinite(us) || us < 0) return "0";
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  return `${whole}.${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}`;
}
