// The gateway's admin listener (--admin-listen): the shared admin server (probes, /metrics,
// log level, the auth rule — core/admin/admin-server.ts) plus what only the gateway knows:
// /status and the rate-limit keys (admin-ratelimit.ts, guarded: a key's state says who is busy).
import type { Logger } from "pino";
import { splitAddress } from "../../core/admin/address.ts";
import { type AdminServer, startAdminServer } from "../../core/admin/admin-server.ts";
import { rateLimitRoutes } from "./admin-ratelimit.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import type { Limiter } from "./ratelimit/types.ts";
import type { SnapshotLoader } from "./snapshot/loader.ts";
import type { SnapshotSource } from "./sources/source.ts";

export interface AdminApiDeps {
  listen: string;
  adminToken?: string | undefined;
  log: Logger;
  metrics: GatewayMetrics | undefined;
  loader: SnapshotLoader;
  source: SnapshotSource;
  limiter: Limiter;
  /** True once shutdown started. */
  draining: () => boolean;
}

export type AdminApi = AdminServer;

export async function startAdminApi(d: AdminApiDeps): Promise<AdminApi> {
  const { log, loader } = d;
  return startAdminServer({
    ...splitAddress(d.listen),
    adminToken: d.adminToken,
    log,
    metrics: d.metrics?.registry,
    // Ready once a snapshot is loaded, until shutdown starts.
    readiness: () => {
      const draining = d.draining();
      const loaded = loader.current !== undefined;
      const ready = loaded && !draining;
      const version = loader.status.version ?? null;
      if (ready) return { ready, draining, version };
      return { ready, reason: draining ? "draining" : "no snapshot loaded", draining, version };
    },
    routes: (admin) => {
      rateLimitRoutes(admin, () => loader.current?.rateLimits, d.limiter, log);
      admin.get("/status", async () => ({
        ...loader.status,
        ...(d.source.objects ? { objects: d.source.objects() } : {}),
        draining: d.draining(),
        pools: [...(loader.current?.pools.values() ?? [])].map((p) => p.describe()),
      }));
    },
  });
}
