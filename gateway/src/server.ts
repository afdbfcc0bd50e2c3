// The gateway process: its components, started in order. Each lives in its own file; what
// has a lifecycle starts here and closes in gracefulShutdown (shutdown.ts). With --workers N
// above 1 the CLI starts workers/primary.ts instead, which runs the same data plane in N
// processes (workers/worker.ts) and the source and admin listener once for all of them.
import type { AddressInfo } from "node:net";
import type { DestinationStream, Logger } from "pino";
import { createLogger } from "../../core/admin/log-format.ts";
import { startAdminApi } from "./admin-api.ts";
import type { GatewayConfig } from "./config.ts";
import { startDataPlane } from "./data-plane-setup.ts";
import { startLimiter } from "./limiter-setup.ts";
import { createSnapshotLoader } from "./loader-setup.ts";
import { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { startObservability } from "./observability-setup.ts";
import { gracefulShutdown } from "./shutdown.ts";
import type { SnapshotLoader } from "./snapshot/loader.ts";
import { startSnapshotSource } from "./snapshot-source.ts";

export interface GatewayHandle {
  readonly dataAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly loader: SnapshotLoader;
  /** Reads the source again now (the watcher does this on its own). */
  reload(): void;
  /** Graceful shutdown: readiness off, stop accepting, let requests finish within drainMs. */
  shutdown(): Promise<void>;
}

export interface GatewayOptions {
  /** Where access-log lines go (default: stdout, written asynchronously). */
  accessLogStream?: DestinationStream;
}

export async function startGateway(
  config: GatewayConfig,
  log: Logger = createLogger("sluice-gateway", "info"),
  options: GatewayOptions = {},
): Promise<GatewayHandle> {
  // Prometheus metrics. The gauges are read at scrape time only, once the admin API below
  // listens, by which time the listener and the loader they read exist.
  const metrics = config.metrics
    ? new GatewayMetrics(
        () => listener.connections,
        () => loader.current?.pools.values() ?? [],
      )
    : undefined;
  // Rate limiter (Redis or memory), brute-force guard and the fail-open log: limiter-setup.ts.
  const limits = await startLimiter(config, log, metrics);
  const { limiter } = limits;
  // Snapshot loading: validate → build → swap, its events logged and counted.
  const loader = createSnapshotLoader(config.apiKeyHashKey, limits.bruteForce, log, metrics);
  // Access log, traces and the metrics every request reports to.
  const telemetry = await startObservability(
    { accessLog: config.accessLog, accessLogStream: options.accessLogStream },
    metrics,
  );
  // The snapshot source (config directory, snapshot file or the operator's Secret): loads now, then watches.
  const source = await startSnapshotSource(config, loader, log);
  // The request pipeline on whatever snapshot is current (route → admission → forward) and
  // the data-plane listener (HTTP or HTTPS, certificates reloaded) handing it every request.
  const listener = await startDataPlane(config, { loader, limits, telemetry }, log);
  // The admin listener: probes, /status, /metrics, log level, rate-limit keys.
  const admin = await startAdminApi({
    listen: config.adminListen,
    adminToken: config.adminToken,
    log,
    metrics,
    loader,
    source,
    limiter,
    draining: () => listener.draining,
  });
  log.info({ listen: listener.address, admin: admin.address }, "gateway listening");

  const shutdown = gracefulShutdown(
    { listener, source, admin, loader, limiter, observability: telemetry },
    config.drainMs,
    log,
  );
  return {
    dataAddress: listener.address,
    adminAddress: admin.address,
    loader,
    reload: () => source.reload(),
    shutdown,
  };
}
