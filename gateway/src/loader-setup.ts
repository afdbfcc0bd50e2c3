// The snapshot loader (validate → build → swap, snapshot/loader.ts) with this gateway's
// API-key hash key and brute-force hook, and its events logged and counted.
import type { Logger } from "pino";
import { hashKeyId } from "../../core/api/snapshot/api-key-hash.ts";
import type { BruteForceGuard } from "./auth/brute-force.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { SnapshotLoader } from "./snapshot/loader.ts";

export function createSnapshotLoader(
  apiKeyHashKey: string,
  bruteForce: BruteForceGuard | undefined,
  log: Logger,
  metrics: GatewayMetrics | undefined,
): SnapshotLoader {
  return new SnapshotLoader({
    hashKeyId: hashKeyId(apiKeyHashKey),
    auth: {
      hashKey: apiKeyHashKey,
      ...(bruteForce ? { onFailure: (f) => void bruteForce.failed(f) } : {}),
    },
    onLoaded: (s, source) => {
      metrics?.snapshotLoaded(s.version);
      log.info(
        { version: s.version, source, rules: s.rules.length, pools: s.pools.length },
        "snapshot loaded",
      );
    },
    onRejected: (err, source) => {
      metrics?.snapshotRejected();
      log.error(
        { source, code: err.code, reason: err.message },
        "snapshot rejected; the previous one keeps serving",
      );
    },
    onPoolEvent: (pool, e) => {
      if (e.type === "ejected") metrics?.ejected(pool, e.endpoint);
      log.warn({ pool, ...e }, `endpoint ${e.type}`);
    },
  });
}
