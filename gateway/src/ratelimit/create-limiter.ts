// Builds the limiter from the gateway's configuration: no store configured → in-memory
// (standalone mode); `url` → one Redis; `sentinel` → the master a Sentinel group names;
// `cluster` → Redis Cluster. Options are checked here, so a bad one fails at startup.
//
// ioredis options, and why:
//   enableOfflineQueue: false — while disconnected a command fails at once instead of
//     waiting in a queue; a limit check is worthless after its request has moved on.
//   maxRetriesPerRequest: 0 — never resend a check after a reconnect: it may have consumed.
//   commandTimeout: 2 × timeoutMs — settles commands a paused server sits on, so they do
//     not pile up forever; our own timer (with-timeout.ts) fires first and bounds the caller.
//   retryStrategy: reconnect forever, backing off to 1 s — recovery needs no restart.
//   connectTimeout: 1 s — a black-holed host is noticed quickly and retried.
//   enableAutoPipelining: only for Cluster, where it groups calls per node. On one server
//     the limiter writes each turn's calls in one pipeline itself (redis-limiter.ts), without
//     the extra turn of the event loop auto-pipelining waits.
//   autoResubscribe: false — the limiter never subscribes.
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { ConfigInvalidError } from "../../../core/api/errors.ts";
import { MemoryLimiter } from "./memory-limiter.ts";
import { RedisLimiter, type RedisLimiterOptions } from "./redis-limiter.ts";
import type { Limiter } from "./types.ts";

export interface RateLimitStoreConfig {
  /** redis:// or rediss:// URL of one Redis server. */
  url?: string;
  /** A Sentinel group: sentinels as host:port, and the master's name. */
  sentinel?: { sentinels: string[]; name: string; password?: string; sentinelPassword?: string };
  /** Redis Cluster seed nodes as host:port (or redis:// URLs). */
  cluster?: { nodes: string[]; password?: string };
  /** Bound for one check in ms (default 50). */
  timeoutMs?: number;
  /** In-memory mode: most keys kept (default 100 000). */
  maxKeys?: number;
  onError?: (error: Error) => void;
  /** Redis only: every script call's duration and failure (RedisLimiterOptions.onCall). */
  onCall?: RedisLimiterOptions["onCall"];
}

function invalid(message: string): never {
  throw new ConfigInvalidError(`rate limit store: ${message}`);
}

function hostPort(node: string): { host: string; port: number } {
  const url = new URL(node.includes("://") ? node : `redis://${node}`);
  const port = Number(url.port || 6379);
  if (!url.hostname || !Number.isInteger(port)) invalid(`bad node address ${JSON.stringify(node)}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
}

const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000);

export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2 * timeoutMs,
    connectTimeout: 1000,
    retryStrategy,
    enableAutoPipelining: false,
    autoResubscribe: false,
  };
}

/** The ioredis client for a config that names a store, else undefined. */
export function createRedisClient(config: RateLimitStoreConfig): Redis | Cluster | undefined {
  const timeoutMs = config.timeoutMs ?? 50;
  const modes = [config.url, config.sentinel, config.cluster].filter((m) => m !== undefined);
  if (modes.length > 1) invalid("set only one of url, sentinel and cluster");
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) invalid("timeoutMs must be a positive number of ms");
  const base = redisOptions(timeoutMs);
  if (config.url !== undefined) {
    if (!/^rediss?:\/\//.test(config.url)) invalid("url must start with redis:// or rediss://");
    return new Redis(config.url, base);
  }
  if (config.sentinel) {
    const { sentinels, name, password, sentinelPassword } = config.sentinel;
    if (sentinels.length === 0 || !name) invalid("sentinel needs sentinels and name");
    return new Redis({
      ...base,
      sentinels: sentinels.map(hostPort),
      name,
      ...(password ? { password } : {}),
      ...(sentinelPassword ? { sentinelPassword } : {}),
      sentinelRetryStrategy: retryStrategy,
    });
  }
  if (config.cluster) {
    if (config.cluster.nodes.length === 0) invalid("cluster needs at least one node");
    const { enableOfflineQueue, enableAutoPipelining: _, ...perNode } = base;
    const options: ClusterOptions = {
      enableOfflineQueue,
      enableAutoPipelining: true,
      maxRedirections: 4,
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: 1000,
      redisOptions: { ...perNode, ...(config.cluster.password ? { password: config.cluster.password } : {}) },
    };
    return new Cluster(config.cluster.nodes.map(hostPort), options);
  }
  return undefined;
}

export function createLimiter(config: RateLimitStoreConfig = {}): Limiter {
  const client = createRedisClient(config);
  if (!client) return new MemoryLimiter(config.maxKeys === undefined ? {} : { maxKeys: config.maxKeys });
  // Connection errors are expected while Redis is down; without a listener Node would
  // treat them as unhandled 'error' events.
  client.on("error", (error: Error) => config.onError?.(error));
  return new RedisLimiter(client, {
    ownsClient: true,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    ...(config.onError ? { onError: config.onError } : {}),
    ...(config.onCall ? { onCall: config.onCall } : {}),
  });
}
