// What one request did, filled in as it goes through the pipeline and closed with its
// response: the end of its span at once, its Prometheus samples and access-log line at the
// end of that event-loop turn. All come from this one record, so they cannot disagree.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Span, Tracer } from "@opentelemetry/api";
import { type GatewayMetrics, methodLabel, NO_ROUTE } from "./gateway-metrics.ts";
import { endSpan, startServerSpan } from "./tracing.ts";

/** Where the gateway's access-log lines go (access-log-writer.ts). */
export interface AccessLog {
  record(r: RequestRecord, traceId: string | undefined): void;
}

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
  /** Set when the response closes. */
  status = 0;
  ms = 0;
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
  /** Where access-log lines go. */
  accessLog: AccessLog | undefined;
  tracer: Tracer | undefined;
}

const RECORD = Symbol("request record");
const OBSERVER = Symbol("observability");
type RecordedResponse = ServerResponse & { [RECORD]: RequestRecord; [OBSERVER]: Observability };

/** The close listener of every recorded response. */
function finishOnClose(this: ServerResponse) {
  const res = this as RecordedResponse;
  res[OBSERVER].finish(res[RECORD], res);
}

export class Observability {
  readonly metrics: GatewayMetrics | undefined;
  readonly #accessLog: ObservabilityOptions["accessLog"];
  readonly #tracer: Tracer | undefined;
  /**
   * Requests closed in this event-loop turn. Their samples and lines are written together at
   * the turn's end: the counting and encoding code then runs once per turn in a tight loop
   * instead of between every request's HTTP and upstream code, which it pushed out of the
   * CPU's caches (measured: docs/benchmarks.md).
   */
  readonly #closed: RequestRecord[] = [];
  readonly #drain = () => this.flush();

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
    // A response closes once: `on` spares the wrapper and removal `once` costs per request,
    // and one shared listener (`this` is the response) spares a closure per request.
    (res as RecordedResponse)[RECORD] = record;
    (res as RecordedResponse)[OBSERVER] = this;
    res.on("close", finishOnClose);
    return record;
  }

  /** Closes the record of a response that closed (finishOnClose calls it). */
  finish(record: RequestRecord, res: ServerResponse) {
    record.status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
    record.ms = performance.now() - record.started;
    // Proxied bodies are counted as they pass; the gateway's own answers announce their length.
    if (record.bytesOut === 0) record.bytesOut = Number(res.getHeader("content-length") ?? 0);
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
      endSpan(span, record.status);
    }
    if (this.#closed.push(record) === 1) setImmediate(this.#drain);
  }

  /**
   * Counts and logs the requests that closed since the last call. The gateway calls it at
   * the end of each event-loop turn, and before its last log flush at shutdown.
   */
  flush(): void {
    const closed = this.#closed;
    for (let i = 0; i < closed.length; i++) {
      const r = closed[i] as RequestRecord;
      this.metrics?.request(r.route, methodLabel(r.method), r.status, r.ms / 1000);
      this.#accessLog?.record(r, r.span?.spanContext().traceId);
    }
    closed.length = 0;
  }
}
