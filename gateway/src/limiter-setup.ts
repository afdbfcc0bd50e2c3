// The rate limiter the data plane, the brute-force guard and the admin API share: in Redis
// when one is configured (shared by every replica), else in memory, per replica. A --workers
// worker passes `shared`, the pod's one memory limiter in its primary (workers/ipc-limiter.ts):
// N workers each counting on their own would allow N times the limit.
import type { Logger } from "pino";
import { BruteForceGuard } from "./auth/brute-force.ts";
import { type GatewayConfig, rateLimitStore } from "./config.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { MemoryLimiter } from "./ratelimit/memory-limiter.ts";
import type { Limiter, RuleOutcome } from "./ratelimit/types.ts";

export interface LimiterSetup {
  limiter: Limiter;
  /** Refuses clients past --auth-failure-limit; undefined when the limit is 0. */
  bruteForce: BruteForceGuard | undefined;
  /** Logs a rule the store failed under failureMode Open, at most once per rule every 10 s. */
  onFailedOpen: (outcome: RuleOutcome) => void;
}

export interface WorkerLimits {
  /** Used in place of an in-memory limiter (not with Redis, already shared). */
  shared: Limiter;
  /** A brute-force block this worker found, for the others to learn. */
  onBlocked: (limiterKey: string, untilMs: number) => void;
}

/** Creates the limiter; with Redis, waits up to 2 s for it, then serves anyway. Closed with `limiter.close()`. */
export async function startLimiter(
  config: GatewayConfig,
  log: Logger,
  metrics: GatewayMetrics | undefined,
  worker?: WorkerLimits,
): Promise<LimiterSetup> {
  const store = rateLimitStore(config);
  const redis = Boolean(store.url || store.sentinel || store.cluster);
  // ioredis and the Redis limiter load only when a store is configured (~2 MB of heap).
  const limiter = redis
    ? (await import("./ratelimit/create-limiter.ts")).createLimiter({
        ...store,
        onError: (err) => log.warn({ err: err.message }, "rate-limit store error"),
        ...(metrics ? { onCall: (seconds, failure) => metrics.redisCall(seconds, failure) } : {}),
      })
    : (worker?.shared ?? new MemoryLimiter());
  if (redis && !(await limiter.connected(2000)))
    log.warn(
      "Redis did not answer within 2 s; serving anyway, each policy's failureMode applies until it does",
    );
  const bruteForce =
    config.authFailureLimit > 0
      ? new BruteForceGuard(limiter, {
          limit: config.authFailureLimit,
          windowMs: config.authFailureWindowMs,
          blockMs: config.authFailureBlockMs,
          ...(worker ? { onBlocked: worker.onBlocked } : {}),
        })
      : undefined;
  return { limiter, bruteForce, onFailedOpen: failOpenLogger(log) };
}

/**
 * A store outage under failureMode Open lets every request through: say so, once per rule
 * every 10 s rather than once per request.
 */
function failOpenLogger(log: Logger): (o: RuleOutcome) => void {
  const logged = new Map<string, number>();
  return (o) => {
    const key = `${o.policyId}/${o.rule}`;
    const now = Date.now();
    if ((logged.get(key) ?? 0) > now - 10_000) return;
    logged.set(key, now);
    log.warn(
      { policy: o.policyId, rule: o.rule, failure: o.failure },
      "rate limit not checked; failureMode Open lets requests through",
    );
  };
}
