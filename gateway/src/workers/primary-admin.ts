// The one admin listener of a pod with workers, run by the primary: the shared admin server
// (probes, /metrics, log level, the auth rule) with the gateway's routes, answered for the
// pod — /readyz for every worker (primary-snapshots.ts), /metrics summed over them
// (cluster-metrics.ts), /status with one entry per worker, the log level passed on to each,
// and the rate-limit keys read and reset in the pod's one limiter.
import type { Logger } from "pino";
import { splitAddress } from "../../../core/admin/address.ts";
import { type AdjustableLog, type AdminServer, startAdminServer } from "../../../core/admin/admin-server.ts";
import type { SnapshotRateLimitPolicy } from "../../../core/api/snapshot/schema.ts";
import { rateLimitRoutes } from "../admin-ratelimit.ts";
import type { Limiter } from "../ratelimit/types.ts";
import type { SnapshotSource } from "../sources/source.ts";
import type { ClusterMetrics } from "./cluster-metrics.ts";
import type { PrimarySnapshots } from "./primary-snapshots.ts";
import type { WorkerStatus } from "./protocol.ts";
import type { Supervisor } from "./supervisor.ts";

export interface PrimaryAdminDeps {
  listen: string;
  adminToken?: string | undefined;
  log: Logger;
  metrics: ClusterMetrics | undefined;
  snapshots: PrimarySnapshots;
  source: SnapshotSource;
  supervisor: Supervisor;
  limiter: Limiter;
  draining: () => boolean;
}

export function startPrimaryAdmin(d: PrimaryAdminDeps): Promise<AdminServer> {
  const { log, snapshots, supervisor } = d;
  // PUT /log-level sets the primary's level and every worker's.
  const levels: AdjustableLog = {
    get level() {
      return log.level;
    },
    set level(level: string) {
      log.level = level;
      supervisor.broadcast({ t: "log-level", level });
    },
    levels: log.levels,
    info: (details, message) => log.info(details, message),
  };
  let policies: { version: string; byId: ReadonlyMap<string, SnapshotRateLimitPolicy> } | undefined;
  const rateLimits = () => {
    const snapshot = snapshots.current?.snapshot;
    if (!snapshot) return undefined;
    if (policies?.version !== snapshot.version)
      policies = {
        version: snapshot.version,
        byId: new Map(snapshot.rateLimitPolicies.map((p) => [p.id, p])),
      };
    return policies.byId;
  };
  return startAdminServer({
    ...splitAddress(d.listen),
    adminToken: d.adminToken,
    log: levels,
    metrics: d.metrics,
    readiness: () => snapshots.readiness(d.draining()),
    routes: (admin) => {
      rateLimitRoutes(admin, rateLimits, d.limiter, log);
      admin.get("/status", async () => {
        const answers = await supervisor.ask("status");
        const workers = supervisor.workers.map((w) => {
          const status = answers.find((a) => a.state === w)?.body as WorkerStatus | undefined;
          const { index, pid, listening, serving } = w;
          return { index, pid, listening, serving, connections: status?.connections, pools: status?.pools };
        });
        return {
          ...snapshots.status,
          ...(d.source.objects ? { objects: d.source.objects() } : {}),
          draining: d.draining(),
          // Each worker checks and ejects endpoints on its own; the first one's view here, all below.
          pools: workers.find((w) => w.pools)?.pools ?? [],
          workers,
        };
      });
    },
  });
}
