// OpenTelemetry tracing, off unless the standard OTEL_* environment asks for it (an OTLP
// endpoint, or OTEL_TRACES_EXPORTER other than none). Off costs nothing: the SDK is not
// even imported and the request path checks one undefined. On: a server span per request
// (child of the client's traceparent), a client span per upstream attempt, and the
// attempt's traceparent/tracestate sent upstream. The exporter, protocol, sampler and
// resource come from the SDK's own reading of OTEL_* (@opentelemetry/sdk-node).
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === "true") return false;
  const exporters = env.OTEL_TRACES_EXPORTER;
  if (exporters !== undefined)
    return exporters.split(",").some((e) => e.trim() !== "none" && e.trim() !== "");
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function startTracing(serviceName: string, env = process.env): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? serviceName, instrumentations: [] });
  sdk.start();
  return { tracer: trace.getTracer("sluice-gateway"), shutdown: () => sdk.shutdown() };
}

/** The server span of a request, continuing the client's trace when it sent one. */
export function startServerSpan(tracer: Tracer, name: string, headers: Record<string, unknown>): Span {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
}

/** A client span for one upstream attempt; its context goes upstream in `headers`. */
export function startAttemptSpan(
  tracer: Tracer,
  server: Span,
  attributes: Record<string, string | number>,
  headers: Record<string, string | string[]>,
): Span {
  const parent: Context = trace.setSpan(context.active(), server);
  const span = tracer.startSpan("upstream attempt", { kind: SpanKind.CLIENT, attributes }, parent);
  delete headers.traceparent;
  delete headers.tracestate;
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
  return span;
}

export function endSpan(span: Span, status: number | undefined, error?: string) {
  if (status !== undefined) span.setAttribute("http.response.status_code", status);
  if (error !== undefined || (status !== undefined && status >= 500)) {
    span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
  }
  span.end();
}
