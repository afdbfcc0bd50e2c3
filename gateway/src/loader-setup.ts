// The snapshot loader (validate → build → swap, snapshot/loader.ts) with this gateway's
// API-key hash key and brute-force hook, and its events logged and counted. In a --workers
// worker, loads and rejections are counted by the primary, which owns the source and sees
// the rejections no worker hears of; the worker builds pools with its share of their limits.
import type { Logger } from "pino";
import { hashKeyId } from "../../core/api/snapshot/api-key-hash.ts";
import type { SnapshotPool } from "../../core/api/snapshot/schema.ts";
import type { BruteForceGuard } from "./auth/brute-force.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { SnapshotLoader } from "./snapshot/loader.ts";

export function createSnapshotLoader(
  apiKeyHashKey: string,
  bruteForce: BruteForceGuard | undefined,
  log: Logger,
  metrics: GatewayMetrics | undefined,
  worker?: { adjustPool: (pool: SnapshotPool) => SnapshotPool },
): SnapshotLoader {
  const counted = worker ? undefined : metrics;
  return new SnapshotLoader({
    hashKeyId: hashKeyId(apiKeyHashKey),
    auth: {
      hashKey: apiKeyHashKey,
      ...(bruteForce ? { onFailure: (f) => void bruteForce.failed(f) } : {}),
    },
    onLoaded: (s, source) => {
      counted?.snapshotLoaded(s.version);
      log.info(
        { version: s.version, source, rules: s.rules.length, pools: s.pools.length },
        "snapshot loaded",
      );
    },
    onRejected: (err, source) => {
      counted?.snapshotRejected();
      log.error(
        { source, code: err.code, reason: err.message },
        "snapshot rejected; the previous one keeps serving",
      );
    },
    ...(worker ? { adjustPool: worker.adjustPool } : {}),
    onPoolEvent: (pool, e) => {
      if (e.type === "ejected") metrics?.ejected(pool, e.endpoint);
      log.warn({ pool, ...e }, `endpoint ${e.type}`);
    },
  });
}
