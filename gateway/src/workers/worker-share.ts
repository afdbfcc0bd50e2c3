// Limits a process keeps in its own memory, divided among the workers of a pod so that N
// workers together never allow more than one process did (fail closed, ADR 0005): the
// circuit breaker of every pool (connections, pending and in-flight requests to the
// backend) and --max-requests-per-client. The kernel spreads connections evenly, so each
// worker sees about 1/N of the traffic; a worker busier than its share refuses earlier,
// never later. A limit below N leaves each worker 1: a worker cannot serve with 0.
// Rate limits and the brute-force counts are not divided: they are one shared state.
import type { SnapshotPool } from "../../../core/api/snapshot/schema.ts";
import type { GatewayConfig } from "../config.ts";

/** One worker's share of a limit; 0 stays 0 where 0 means "no limit". */
export function share(limit: number, workers: number): number {
  if (limit === 0) return 0;
  return Math.max(1, Math.floor(limit / workers));
}

/** The configuration a worker runs with. */
export function workerConfig(config: GatewayConfig, workers: number): GatewayConfig {
  return { ...config, maxRequestsPerClient: share(config.maxRequestsPerClient, workers) };
}

/**
 * A pool as a worker builds it: its circuit breaker divided. The loader applies this after
 * validating the snapshot (whose version is the hash of what the operator published), and
 * a pool's runtime is kept across reloads by the divided configuration, as by the whole one.
 */
export function workerPool(pool: SnapshotPool, workers: number): SnapshotPool {
  if (workers === 1) return pool;
  const cb = pool.circuitBreaker;
  return {
    ...pool,
    circuitBreaker: {
      maxConnections: share(cb.maxConnections, workers),
      maxPendingRequests: share(cb.maxPendingRequests, workers),
      maxRequests: share(cb.maxRequests, workers),
    },
  };
}
