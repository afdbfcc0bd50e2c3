// The data plane on whatever snapshot is current (route → admission → forward) and the
// listener that hands it every request: what a gateway process and a --workers worker
// both run, with the limits, the loader and the telemetry their wiring made.
import type { Logger } from "pino";
import type { GatewayConfig } from "./config.ts";
import { createDataPlane } from "./data-plane.ts";
import type { LimiterSetup } from "./limiter-setup.ts";
import { type Listener, startListener } from "./listener.ts";
import type { ObservabilitySetup } from "./observability-setup.ts";
import type { SnapshotLoader } from "./snapshot/loader.ts";

export function startDataPlane(
  config: GatewayConfig,
  parts: { loader: SnapshotLoader; limits: LimiterSetup; telemetry: ObservabilitySetup },
  log: Logger,
): Promise<Listener> {
  const { loader, limits, telemetry } = parts;
  const dataPlane = createDataPlane({
    current: () => loader.current,
    trustedHops: config.trustedHops,
    maxBodyBytes: config.maxBodyBytes,
    tls: config.tlsCertFile !== undefined,
    observability: telemetry.observability,
    limiter: limits.limiter,
    ...(limits.bruteForce ? { bruteForce: limits.bruteForce } : {}),
    onFailedOpen: limits.onFailedOpen,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    maxRequestsPerClient: config.maxRequestsPerClient,
    headersWithUnderscores: config.headersWithUnderscores,
    securityHeaders: config.securityHeaders ? config : {},
  });
  // HTTP or HTTPS, certificates reloaded; a worker listens on the port its siblings share.
  return startListener(config, dataPlane, log);
}
