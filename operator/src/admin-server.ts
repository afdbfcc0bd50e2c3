// The operator's admin listener: the shared admin server (/healthz, /readyz, /metrics,
// PUT /log-level and its auth rule — core/admin/admin-server.ts) with the operator's
// readiness (every informer has listed once, so a standby can take over with a whole cache;
// and, for the leader, its latest snapshot is published — else /readyz says why) and its
// /status (for people).
import { type AdjustableLog, type AdminServer, startAdminServer } from "../../core/admin/admin-server.ts";
import type { OperatorHandle } from "./operator.ts";

export type { AdminServer };

export async function startOperatorAdmin(
  host: string,
  port: number,
  operator: OperatorHandle,
  log?: AdjustableLog,
): Promise<AdminServer> {
  return startAdminServer({
    host,
    port,
    log,
    metrics: operator.metrics.registry,
    readiness: () => {
      if (!operator.synced) return { ready: false, reason: "caches not synced", synced: false };
      const failure = operator.publishFailure;
      if (failure !== undefined) {
        return {
          ready: false,
          reason: `snapshot ${operator.version} not published: ${failure}`,
          synced: true,
        };
      }
      return { ready: true, synced: true };
    },
    routes: (admin) => {
      admin.get("/status", async () => ({
        identity: operator.identity,
        leader: operator.isLeader,
        synced: operator.synced,
        version: operator.version ?? null,
        publishFailure: operator.publishFailure ?? null,
      }));
    },
  });
}
