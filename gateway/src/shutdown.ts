// Graceful shutdown (SIGTERM/SIGINT), in order: readiness off and the listener drained
// (in-flight requests get --drain-ms), the source stopped meanwhile (a cluster replica
// withdraws its report), then everything else closed, and the last access-log lines written.
// A --workers worker has neither source nor admin listener: its primary holds them.
import type { Logger } from "pino";
import type { AdminApi } from "./admin-api.ts";
import type { Listener } from "./listener.ts";
import type { ObservabilitySetup } from "./observability-setup.ts";
import type { Limiter } from "./ratelimit/types.ts";
import type { SnapshotLoader } from "./snapshot/loader.ts";
import type { SnapshotSource } from "./sources/source.ts";

export interface Stoppable {
  listener: Listener;
  source?: SnapshotSource;
  admin?: AdminApi;
  loader: SnapshotLoader;
  limiter: Limiter;
  observability: ObservabilitySetup;
}

/** The shutdown function; calling it again returns the same promise. */
export function gracefulShutdown(parts: Stoppable, drainMs: number, log: Logger): () => Promise<void> {
  let shuttingDown: Promise<void> | undefined;
  return () => {
    shuttingDown ??= (async () => {
      const drained = parts.listener.close(drainMs);
      const sourceClosed = parts.source?.close();
      await drained;
      await Promise.all([parts.admin?.close(), parts.loader.close(), sourceClosed, parts.limiter.close()]);
      // After the pools: a request cut at the deadline still gets its access-log line.
      await parts.observability.close();
      log.info("stopped");
    })();
    return shuttingDown;
  };
}
