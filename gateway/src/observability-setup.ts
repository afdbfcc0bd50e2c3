// What every request reports to: metrics (created by the caller, which the admin API also
// serves), one access-log line, and a trace when OpenTelemetry is configured.
import { setTimeout as sleep } from "node:timers/promises";
import type { DestinationStream } from "pino";
import { AccessLogStream, AccessLogWriter, accessLogDestination } from "./observability/access-log-writer.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { Observability } from "./observability/request-record.ts";
import { startTracing } from "./observability/tracing.ts";

export interface ObservabilitySetup {
  observability: Observability;
  /** Ends tracing, then writes the last access-log lines (waiting at most 2 s for stdout). */
  close(): Promise<void>;
}

export async function startObservability(
  settings: { accessLog: boolean; accessLogStream?: DestinationStream | undefined },
  metrics: GatewayMetrics | undefined,
): Promise<ObservabilitySetup> {
  const tracing = await startTracing("sluice-gateway");
  // Access-log lines are gathered into 64 KiB writes (see access-log-writer.ts) and flushed
  // at least every 250 ms, so a quiet gateway's lines still show up promptly. At most 16 MiB
  // may wait for a slow stdout; past that, lines are dropped and counted, never the gateway's
  // memory or the request path held hostage.
  const file =
    settings.accessLog && !settings.accessLogStream
      ? new AccessLogWriter(accessLogDestination((bytes) => metrics?.accessLogDropped(bytes)))
      : undefined;
  const accessLog = !settings.accessLog
    ? undefined
    : settings.accessLogStream
      ? new AccessLogStream(settings.accessLogStream)
      : file;
  const flushTimer = file ? setInterval(() => file.flush(), 250) : undefined;
  flushTimer?.unref();
  const observability = new Observability({ metrics, accessLog, tracer: tracing?.tracer });
  return {
    observability,
    close: async () => {
      await tracing?.shutdown();
      clearInterval(flushTimer);
      observability.flush();
      try {
        // Bounded: a stdout nobody reads must not hold the shutdown.
        await Promise.race([file?.close(), sleep(2_000, undefined, { ref: false })]);
      } catch {
        // stdout closed or broken: the last lines are lost, the shutdown goes on.
      }
    },
  };
}
