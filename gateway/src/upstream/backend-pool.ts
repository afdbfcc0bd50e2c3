// A BackendPool at runtime: one undici Pool (keep-alive connections) per endpoint, a
// balancer over the healthy ones, active health checks, passive ejection (outlier
// detection) and the pool's circuit-breaker counters. Built once per snapshot and kept
// across reloads while its configuration is unchanged, so connections, health state and
// ejections survive a reload.
import { createRequire } from "node:module";
import type { Dispatcher, Pool as UndiciPool } from "undici";
import type { SnapshotPool } from "../../../core/api/snapshot/schema.ts";
import { canonicalJson } from "../../../core/api/snapshot/version.ts";
import { type Balancer, createBalancer, hash32 } from "./balancers.ts";
import { probe } from "./health-probe.ts";

/**
 * undici's Pool, required from its own file: undici's index also loads fetch, WebSocket,
 * the caches and the mocks, none of which the data plane uses (~3 MB of heap, ~12 MB
 * resident). Without the index, dispatchers have no request()/stream()/pipeline(): the
 * gateway only dispatches (proxy.ts, upgrade.ts, health-probe.ts). backend-pool.test.ts
 * checks this is the class undici exports; gateway-process.test.ts runs a gateway process,
 * which loads only what the CLI loads, through health checks.
 */
export const Pool = createRequire(import.meta.url)("undici/lib/dispatcher/pool.js") as typeof UndiciPool;

export class EndpointRuntime {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly origin: string;
  readonly dispatcher: Dispatcher;
  inflight = 0;
  /** Healthy for the balancer: passing active checks and not ejected. */
  healthy = true;
  activeHealthy = true;
  ejectedUntil = 0;
  ejections = 0;
  consecutiveErrors = 0;
  checkSuccesses = 0;
  checkFailures = 0;

  constructor(e: SnapshotPool["endpoints"][number], pool: SnapshotPool, connections: number) {
    this.address = e.address;
    this.port = e.port;
    this.weight = e.weight;
    const host = e.address.includes(":") ? `[${e.address}]` : e.address;
    this.key = `${host}:${e.port}`;
    const { http2 } = pool.connection;
    const { tls } = pool;
    this.origin = `${tls ? "https" : "http"}://${this.key}`;
    const dispatcher = new Pool(this.origin, {
      connections,
      pipelining: 1,
      connectTimeout: pool.connection.connectTimeoutMs,
      keepAliveTimeout: pool.connection.idleTimeoutMs,
      keepAliveMaxTimeout: pool.connection.idleTimeoutMs,
      // Over TLS, HTTP/2 is offered first by ALPN. Cleartext has nothing to negotiate it
      // with: it is spoken from the first byte (prior knowledge, h2c); without useH2c undici
      // would send HTTP/1.1 to an h2c server. Its types offer only h2Options.useH2c, which a
      // Pool ignores (undici 8.12): the top-level option is the one Pool reads
      // (docs/adr/0003-http2-upstreams.md).
      allowH2: http2,
      ...({ useH2c: http2 && !tls } as UndiciPool.Options),
      ...(tls && {
        connect: { servername: tls.serverName, preferH2: http2, ...(tls.ca !== undefined && { ca: tls.ca }) },
      }),
      // Timeouts per request are the proxy's; these only catch a stalled upstream.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    // undici takes each request's SNI from its Host header, and reconnects when that
    // changes: every request (proxied, health check, upgrade) names the pool's server instead.
    this.dispatcher = tls
      ? dispatcher.compose((dispatch) => (opts, handler) => {
          const named: Dispatcher.DispatchOptions & { servername: string } = {
            ...opts,
            servername: tls.serverName,
          };
          return dispatch(named, handler);
        })
      : dispatcher;
  }

  refreshHealth(now: number) {
    this.healthy = this.activeHealthy && this.ejectedUntil <= now;
  }
}

export type PoolEvent =
  | { type: "ejected"; endpoint: string; forMs: number }
  | { type: "health"; endpoint: string; healthy: boolean };

/** Equal keys mean equal configuration: a runtime can be reused by the next snapshot. */
export function poolConfigKey(config: SnapshotPool): string {
  return canonicalJson(config);
}

export class BackendPoolRuntime {
  readonly id: string;
  readonly configKey: string;
  readonly config: SnapshotPool;
  readonly endpoints: EndpointRuntime[];
  readonly #balancer: Balancer<EndpointRuntime>;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onEvent: (e: PoolEvent) => void;
  inflight = 0;
  retriesInflight = 0;
  closed = false;
  /**
   * The pool of the same id that replaced this one at a reload (set when this one is
   * retired): a request retried after the reload continues there, since this pool's
   * connections are closing.
   */
  successor: BackendPoolRuntime | undefined;

  constructor(config: SnapshotPool, onEvent: (e: PoolEvent) => void = () => {}) {
    this.id = config.id;
    this.config = config;
    this.configKey = poolConfigKey(config);
    this.#onEvent = onEvent;
    const n = Math.max(1, config.endpoints.length);
    const perEndpoint = Math.max(1, Math.ceil(config.circuitBreaker.maxConnections / n));
    this.endpoints = config.endpoints.map((e) => new EndpointRuntime(e, config, perEndpoint));
    this.#balancer = createBalancer(config.loadBalancing.algorithm, this.endpoints);
    const active = config.healthCheck.active;
    if (active) {
      for (const endpoint of this.endpoints) {
        const timer = setInterval(() => this.#check(endpoint), active.intervalMs);
        timer.unref();
        this.#timers.push(timer);
      }
    }
  }

  /**
   * An endpoint for the request, or undefined when none is healthy. `avoid` (the endpoints
   * earlier attempts of a retried request went to, as Envoy's previous_hosts predicate) are
   * chosen only when no other endpoint is healthy — then the last of them. When several
   * backend pods go away at once, a retry that may land on any of them again often fails
   * again; one that avoids them all reaches a pod that stays.
   */
  pick(hashKey: string | undefined, avoid?: readonly EndpointRuntime[]): EndpointRuntime | undefined {
    const hash = hashKey === undefined ? undefined : hash32(hashKey);
    if (!avoid?.length) return this.#balancer.pick(hash);
    const hidden = avoid.filter((e) => e.healthy);
    for (const e of hidden) e.healthy = false; // balancers read `healthy` at pick time
    try {
      return this.#balancer.pick(hash) ?? hidden.at(-1);
    } finally {
      for (const e of hidden) e.healthy = true;
    }
  }

  /** Circuit breaker: refuse new requests beyond the pool's limits. */
  atCapacity(): boolean {
    const cb = this.config.circuitBreaker;
    if (this.inflight >= cb.maxRequests) return true;
    return this.inflight - cb.maxConnections >= cb.maxPendingRequests;
  }

  /** A retry is allowed while retries are at most a fifth of the pool's traffic (min 3). */
  retryAllowed(): boolean {
    return this.retriesInflight < Math.max(3, Math.floor(this.inflight / 5));
  }

  /** Passive health: a 5xx or a failed connection. */
  recordFailure(e: EndpointRuntime) {
    const passive = this.config.healthCheck.passive;
    if (!passive) return;
    e.consecutiveErrors++;
    if (e.consecutiveErrors < passive.consecutiveErrors || e.ejectedUntil > Date.now()) return;
    const ejected = this.endpoints.filter((x) => x.ejectedUntil > Date.now()).length;
    if ((ejected + 1) * 100 > passive.maxEjectionPercent * this.endpoints.length) return;
    e.ejections++;
    // Each ejection lasts longer than the last (base × count, capped at 10 × base).
    const forMs = passive.baseEjectionMs * Math.min(e.ejections, 10);
    e.ejectedUntil = Date.now() + forMs;
    e.consecutiveErrors = 0;
    e.refreshHealth(Date.now());
    // Back in rotation when the ejection ends (a timer, so pick() stays O(1)).
    setTimeout(() => e.refreshHealth(Date.now()), forMs + 1).unref();
    this.#onEvent({ type: "ejected", endpoint: e.key, forMs });
  }

  recordSuccess(e: EndpointRuntime) {
    e.consecutiveErrors = 0;
  }

  async #check(e: EndpointRuntime) {
    const active = this.config.healthCheck.active;
    if (!active || this.closed) return;
    const ok = await probe(e.dispatcher, active.path, active.timeoutMs);
    if (ok) {
      e.checkFailures = 0;
      e.checkSuccesses++;
      if (!e.activeHealthy && e.checkSuccesses >= active.healthyThreshold) this.#setActive(e, true);
    } else {
      e.checkSuccesses = 0;
      e.checkFailures++;
      if (e.activeHealthy && e.checkFailures >= active.unhealthyThreshold) this.#setActive(e, false);
    }
  }

  #setActive(e: EndpointRuntime, healthy: boolean) {
    e.activeHealthy = healthy;
    e.refreshHealth(Date.now());
    this.#onEvent({ type: "health", endpoint: e.key, healthy });
  }

  /** Stops health checks and closes connections once in-flight requests have ended. */
  async close() {
    this.closed = true;
    for (const t of this.#timers) clearInterval(t);
    await Promise.all(this.endpoints.map((e) => e.dispatcher.close()));
  }

  /** The state operators see in /status. */
  describe() {
    const now = Date.now();
    return {
      id: this.id,
      inflight: this.inflight,
      /** At the circuit-breaker limits: new requests get 503 until some finish. */
      circuitOpen: this.atCapacity(),
      endpoints: this.endpoints.map((e) => ({
        endpoint: e.key,
        healthy: e.healthy,
        activeHealthy: e.activeHealthy,
        ejectedForMs: Math.max(0, e.ejectedUntil - now),
        inflight: e.inflight,
      })),
    };
  }
}
