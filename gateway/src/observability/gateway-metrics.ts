// The gateway's Prometheus metrics (prom-client), served on the admin listener's /metrics.
// Labels are bounded by configuration: route, pool, upstream (a pool's endpoint), policy and
// rule names, and small fixed sets (method, status class, result, reason) — never raw paths,
// keys, client addresses or user ids, so a client cannot grow the series count. No label is named like one
// a Prometheus Operator scrape adds to every target (job, instance, namespace, service, pod,
// container, endpoint): Prometheus would rename ours to exported_<name> and keep its own.
// Metrics counted on every request are HotCounter/HotHistogram (hot-metrics.ts): prom-client
// validates and hashes labels on every inc/observe, which showed in the proxy bench.
// With --workers, the primary sums every worker's registry and its own (prom-client's
// AggregatorRegistry, workers/cluster-metrics.ts): counters and histograms add up, and each
// gauge says how its values combine (`aggregator`) where a sum would be wrong. The process_*
// and nodejs_* metrics come from core/admin/process-metrics.ts.
import { Counter, Gauge, Registry } from "prom-client";
import { addProcessMetrics } from "../../../core/admin/process-metrics.ts";
import { type CounterSeries, type HistogramSeries, HotCounter, HotHistogram } from "./hot-metrics.ts";

/** What the pool gauges read of a pool at scrape time (upstream/backend-pool.ts has it). */
export interface PoolGauges {
  id: string;
  endpoints: Iterable<{ key: string; healthy: boolean }>;
  atCapacity(): boolean;
  inflight: number;
}

/** From 250 µs to 10 s: p50–p99 of a sub-millisecond proxy hop and of a slow upstream alike. */
export const DURATION_BUCKETS = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const METHOD_LIST = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];
const METHODS = new Set(METHOD_LIST);
const METHOD_INDEX = new Map(METHOD_LIST.map((m, i) => [m, i]));
export const methodLabel = (method: string | undefined) =>
  method !== undefined && METHODS.has(method) ? method : "OTHER";
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"];
export const statusClass = (status: number) => STATUS_CLASSES[Math.floor(status / 100) - 1] ?? "other";

/** No route matched (404), or the request was refused before routing (400). */
export const NO_ROUTE = "(none)";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests = new HotCounter(
    this.registry,
    "sluice_requests_total",
    "Requests answered, by route, method and status class.",
    ["route", "method", "status_class"],
  );
  readonly #duration = new HotHistogram(
    this.registry,
    "sluice_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route.",
    ["route"],
    DURATION_BUCKETS,
  );
  readonly #upstreamDuration = new HotHistogram(
    this.registry,
    "sluice_upstream_duration_seconds",
    "Time of one upstream attempt, from dispatch to the end of the response, by pool.",
    ["pool"],
    DURATION_BUCKETS,
  );
  readonly #upstreamByPool = new Map<string, HistogramSeries>();
  readonly #upstreamErrors = new Counter({
    name: "sluice_upstream_errors_total",
    help: "Upstream attempts that failed (connect-failure, reset, timeout, other) or answered 5xx, by pool and upstream (endpoint address).",
    labelNames: ["pool", "upstream", "kind"] as const,
    registers: [this.registry],
  });
  readonly #retries = new Counter({
    name: "sluice_retries_total",
    help: "Upstream attempts that were retries, by route.",
    labelNames: ["route"] as const,
    registers: [this.registry],
  });
  readonly #circuitRefusals = new Counter({
    name: "sluice_circuit_breaker_refusals_total",
    help: "Requests refused because the pool was at its circuit-breaker limits.",
    labelNames: ["pool"] as const,
    registers: [this.registry],
  });
  readonly #ejections = new Counter({
    name: "sluice_endpoint_ejections_total",
    help: "Passive-health ejections, by pool and upstream (endpoint address).",
    labelNames: ["pool", "upstream"] as const,
    registers: [this.registry],
  });
  readonly #rateLimit = new HotCounter(
    this.registry,
    "sluice_ratelimit_decisions_total",
    "Rate-limit decisions by policy, rule and result (allowed, limited, blocked, store_failed_open, store_failed_closed).",
    ["policy", "rule", "result"],
  );
  readonly #rateLimitSeries = new Map<string, CounterSeries>();
  readonly #authFailures = new Counter({
    name: "sluice_auth_failures_total",
    help: "Requests refused by authentication (401) or authorization (403), by policy and reason.",
    labelNames: ["policy", "reason"] as const,
    registers: [this.registry],
  });
  readonly #reloads = new Counter({
    name: "sluice_snapshot_reloads_total",
    help: "Snapshot loads by result (loaded, rejected).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly #snapshotInfo = new Gauge({
    name: "sluice_snapshot_info",
    help: "The snapshot being served (value 1; its version as a label).",
    labelNames: ["version"] as const,
    aggregator: "max",
    registers: [this.registry],
  });
  readonly #lastReload = new Gauge({
    name: "sluice_snapshot_last_reload_timestamp_seconds",
    help: "When the last snapshot was loaded (Unix time).",
    aggregator: "max",
    registers: [this.registry],
  });
  readonly #redisDuration = new HotHistogram(
    this.registry,
    "sluice_redis_duration_seconds",
    "Time of rate-limit calls to Redis.",
    [],
    DURATION_BUCKETS,
  );
  readonly #redisSeries = this.#redisDuration.child();
  readonly #redisErrors = new Counter({
    name: "sluice_redis_errors_total",
    help: "Rate-limit calls to Redis that failed or timed out.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly #accessLogDropped = new Counter({
    name: "sluice_access_log_dropped_bytes_total",
    help: "Access-log bytes dropped because stdout could not keep up (more than 16 MiB waiting).",
    registers: [this.registry],
  });
  readonly #requestSlots = new Map<
    string,
    ({ count: CounterSeries; duration: HistogramSeries } | undefined)[]
  >();

  /** `connections()` and `pools()` are read at scrape time, never on the request path. */
  constructor(connections: () => number, pools: () => Iterable<PoolGauges>) {
    addProcessMetrics(this.registry);
    new Gauge({
      name: "sluice_active_connections",
      help: "Open client connections on the data-plane listener.",
      registers: [this.registry],
      collect() {
        this.set(connections());
      },
    });
    new Gauge({
      name: "sluice_endpoint_healthy",
      help: "1 when the endpoint is in rotation (passing active checks, not ejected), else 0.",
      labelNames: ["pool", "upstream"] as const,
      // Workers check and eject on their own: in rotation only where every worker has it.
      aggregator: "min",
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools())
          for (const e of pool.endpoints) this.set({ pool: pool.id, upstream: e.key }, e.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: "sluice_circuit_breaker_open",
      help: "1 while the pool is at its circuit-breaker limits (new requests get 503), else 0.",
      labelNames: ["pool"] as const,
      // Open as soon as one worker refuses (each holds its share of the limits).
      aggregator: "max",
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools()) this.set({ pool: pool.id }, pool.atCapacity() ? 1 : 0);
      },
    });
    new Gauge({
      name: "sluice_pool_inflight_requests",
      help: "Requests in flight to the pool.",
      labelNames: ["pool"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools()) this.set({ pool: pool.id }, pool.inflight);
      },
    });
  }

  /** One answered request: `method` is a methodLabel(). */
  request(route: string, method: string, status: number, seconds: number) {
    // route → one slot per (method, status class): no key string is built per request.
    let slots = this.#requestSlots.get(route);
    if (!slots) {
      slots = [];
      this.#requestSlots.set(route, slots);
    }
    const classIndex = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 5);
    const slot = (METHOD_INDEX.get(method) ?? METHOD_LIST.length) * 6 + classIndex;
    let child = slots[slot];
    if (!child) {
      child = {
        count: this.#requests.child(route, method, statusClass(status)),
        duration: this.#duration.child(route),
      };
      slots[slot] = child;
    }
    child.count.value++;
    this.#duration.observe(child.duration, seconds);
  }

  upstreamAttempt(pool: string, seconds: number) {
    let series = this.#upstreamByPool.get(pool);
    if (!series) {
      series = this.#upstreamDuration.child(pool);
      this.#upstreamByPool.set(pool, series);
    }
    this.#upstreamDuration.observe(series, seconds);
  }

  upstreamError(pool: string, endpoint: string, kind: string) {
    this.#upstreamErrors.labels(pool, endpoint, kind).inc();
  }

  retry(route: string) {
    this.#retries.labels(route).inc();
  }

  circuitRefused(pool: string) {
    this.#circuitRefusals.labels(pool).inc();
  }

  ejected(pool: string, endpoint: string) {
    this.#ejections.labels(pool, endpoint).inc();
  }

  rateLimit(policy: string, rule: string, result: string) {
    const key = `${policy}\u0000${rule}\u0000${result}`;
    let series = this.#rateLimitSeries.get(key);
    if (!series) {
      series = this.#rateLimit.child(policy, rule, result);
      this.#rateLimitSeries.set(key, series);
    }
    series.value++;
  }

  authFailure(policy: string, reason: string) {
    this.#authFailures.labels(policy, reason).inc();
  }

  snapshotLoaded(version: string) {
    this.#reloads.labels("loaded").inc();
    this.#snapshotInfo.reset();
    this.#snapshotInfo.labels(version).set(1);
    this.#lastReload.set(Date.now() / 1000);
  }

  snapshotRejected() {
    this.#reloads.labels("rejected").inc();
  }

  accessLogDropped(bytes: number) {
    this.#accessLogDropped.inc(bytes);
  }

  redisCall(seconds: number, error?: string) {
    this.#redisDuration.observe(this.#redisSeries, seconds);
    if (error) this.#redisErrors.labels(error).inc();
  }
}
