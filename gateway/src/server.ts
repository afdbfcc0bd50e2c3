// The gateway process, wired in order:
//   config → snapshot source (directory compile, snapshot file or the operator's Secret, watched)
//   → SnapshotLoader (validate → build → swap) → data plane + admin (fastify)
//   → graceful shutdown (readiness off, stop accepting, drain, close pools).

import { readFileSync, watch } from "node:fs";
import { createServer, type IncomingMessage, type ServerOptions } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Server as TlsServer } from "node:tls";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { type DestinationStream, type Logger, pino } from "pino";
import { isLoopback } from "../../core/admin/loopback.ts";
import { GatewayError } from "../../core/api/errors.ts";
import { hashKeyId } from "../../core/api/snapshot/api-key-hash.ts";
import { ApiClient } from "../../core/kubernetes/api-client.ts";
import { ReplicaReporter } from "../../core/kubernetes/replica-reporter.ts";
import { compileDirectory, notAccepted, watchDirectory } from "../../core/sources/directory-source.ts";
import { watchSnapshotSecret } from "../../core/sources/secret-source.ts";
import { BruteForceGuard } from "./auth/brute-force.ts";
import { type GatewayConfig, rateLimitStore, splitAddress } from "./config.ts";
import { createDataPlane } from "./data-plane.ts";
import { compileSecurityHeaders, securityHeaderLines } from "./filters/security-headers.ts";
import { AccessLogStream, AccessLogWriter, accessLogDestination } from "./observability/access-log-writer.ts";
import { GatewayMetrics } from "./observability/gateway-metrics.ts";
import { Observability } from "./observability/request-record.ts";
import { startTracing } from "./observability/tracing.ts";
import { createLimiter } from "./ratelimit/create-limiter.ts";
import { clientIpKey, GLOBAL_KEY } from "./ratelimit/key-value.ts";
import type { LimitCheck, Limiter } from "./ratelimit/types.ts";
import { SnapshotLoader } from "./snapshot/loader.ts";
import { type KeyPair, readKeyPair, watchTlsFiles } from "./sources/tls-files.ts";

export interface GatewayHandle {
  readonly dataAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly loader: SnapshotLoader;
  /** Reads the source again now (the watcher does this on its own). */
  reload(): void;
  /** Graceful shutdown: readiness off, stop accepting, let requests finish within drainMs. */
  shutdown(): Promise<void>;
}

export interface GatewayOptions {
  /** Where access-log lines go (default: stdout, written asynchronously). */
  accessLogStream?: DestinationStream;
}

export async function startGateway(
  config: GatewayConfig,
  log: Logger = pino({ name: "sluice-gateway" }),
  options: GatewayOptions = {},
): Promise<GatewayHandle> {
  // Read at scrape time only; assigned once the listener and the loader exist.
  let connections = () => 0;
  const metrics = config.metrics
    ? new GatewayMetrics(
        () => connections(),
        () => loader.current?.pools.values() ?? [],
      )
    : undefined;
  // Rate limits: in Redis when one is configured (shared by every replica), else in memory.
  const store = rateLimitStore(config);
  const redis = Boolean(store.url || store.sentinel || store.cluster);
  const baseLimiter = createLimiter({
    ...store,
    onError: (err) => log.warn({ err: err.message }, "rate-limit store error"),
  });
  const limiter: Limiter = redis
    ? {
        inspect: (c) => baseLimiter.inspect(c),
        reset: (c) => baseLimiter.reset(c),
        close: () => baseLimiter.close(),
        connected: (ms) => baseLimiter.connected(ms),
        check: async (checks) => {
          const started = performance.now();
          const decision = await baseLimiter.check(checks);
          const failure = decision.rules.find((r) => r.failure)?.failure;
          metrics?.redisCall((performance.now() - started) / 1000, failure);
          return decision;
        },
      }
    : baseLimiter;
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
        })
      : undefined;
  // A store outage under failureMode Open lets every request through: say so, once per
  // rule every 10 s rather than once per request.
  const failOpenLogged = new Map<string, number>();
  const onFailedOpen = (o: { policyId: string; rule: string; failure?: string }) => {
    const key = `${o.policyId}/${o.rule}`;
    const now = Date.now();
    if ((failOpenLogged.get(key) ?? 0) > now - 10_000) return;
    failOpenLogged.set(key, now);
    log.warn(
      { policy: o.policyId, rule: o.rule, failure: o.failure },
      "rate limit not checked; failureMode Open lets requests through",
    );
  };
  const loader = new SnapshotLoader({
    hashKeyId: hashKeyId(config.apiKeyHashKey),
    auth: {
      hashKey: config.apiKeyHashKey,
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
  const tracing = await startTracing("sluice-gateway");
  // Access-log lines are gathered into 64 KiB writes (see access-log-writer.ts) and flushed
  // at least every 250 ms, so a quiet gateway's lines still show up promptly. At most 16 MiB
  // may wait for a slow stdout; past that, lines are dropped and counted, never the gateway's
  // memory or the request path held hostage.
  const accessLogFile =
    config.accessLog && !options.accessLogStream
      ? new AccessLogWriter(accessLogDestination((bytes) => metrics?.accessLogDropped(bytes)))
      : undefined;
  const accessLog = !config.accessLog
    ? undefined
    : options.accessLogStream
      ? new AccessLogStream(options.accessLogStream)
      : accessLogFile;
  const accessLogFlush = accessLogFile ? setInterval(() => accessLogFile.flush(), 250) : undefined;
  accessLogFlush?.unref();
  const observability = new Observability({ metrics, accessLog, tracer: tracing?.tracer });

  // Standalone: objects of the config directory that are not accepted, with why, for /status.
  let objectProblems: ReturnType<typeof notAccepted> = [];
  const reload = () => {
    try {
      if (config.configDir) {
        // The snapshot served so far is where an object that became invalid finds its last good version.
        const { snapshot, statuses } = compileDirectory(
          config.configDir,
          config.apiKeyHashKey,
          loader.current?.snapshot,
        );
        objectProblems = notAccepted(statuses);
        for (const s of statuses) {
          for (const c of s.conditions) {
            if (c.status === "False" || c.type === "Conflicted" || c.type === "Fallback") {
              log.warn(
                { kind: s.kind, object: `${s.namespace}/${s.name}`, condition: c.type, reason: c.reason },
                c.message,
              );
            }
          }
        }
        loader.load(snapshot, config.configDir);
      } else if (config.snapshotFile) {
        loader.load(JSON.parse(readFileSync(config.snapshotFile, "utf8")), config.snapshotFile);
      }
    } catch (err) {
      const error =
        err instanceof GatewayError
          ? err
          : new GatewayError("SLUICE_SOURCE_UNREADABLE", (err as Error).message);
      loader.status.lastRejected = {
        version: undefined,
        source: config.configDir ?? config.snapshotFile ?? "",
        reason: error.message,
        at: new Date().toISOString(),
      };
      log.error(
        { code: error.code, reason: error.message },
        "configuration not loaded; the previous one keeps serving",
      );
    }
  };
  const watcher = startSource();
  function startSource(): { close(): Promise<void> | void } {
    if (config.snapshotSecret) {
      const [namespace = "", name = ""] = config.snapshotSecret.split("/");
      // Tell the operator what this replica serves (and what it rejected), for Programmed.
      // One client for both: the snapshot Secret watch and this replica's report.
      const client = ApiClient.load(config.kubeconfig);
      const reporter = new ReplicaReporter({
        client,
        namespace,
        identity: config.identity ?? `${hostname()}-${process.pid}`,
        leaseDurationSeconds: 30,
        report: () => ({
          serving: loader.status.version,
          rejected: loader.status.lastRejected,
          apiKeyUsage: loader.current?.auth.usage.read(),
        }),
        onError: (err) => log.warn({ err: String(err) }, "replica report failed; retrying"),
      });
      reporter.start();
      const source = watchSnapshotSecret({
        namespace,
        name,
        client,
        onSnapshot: (candidate, from) => {
          loader.load(candidate, from);
          reporter.update();
        },
        onError: (err) =>
          log.warn(
            { err: String(err) },
            "snapshot Secret watch: retrying; the last good snapshot keeps serving",
          ),
      });
      return {
        // Withdraw the report before exiting, so the operator stops waiting for this replica.
        close: () => Promise.all([source.stop(), reporter.stop()]).then(() => {}),
      };
    }
    reload();
    if (config.configDir) return watchDirectory(config.configDir, reload);
    const w = watch(config.snapshotFile as string, () => reload());
    return { close: () => w.close() };
  }

  let draining = false;
  const securityHeaderValues = config.securityHeaders ? config : {};
  const securityHeaders = compileSecurityHeaders(securityHeaderValues, config.tlsCertFile !== undefined);
  const dataPlane = createDataPlane({
    current: () => loader.current,
    trustedHops: config.trustedHops,
    maxBodyBytes: config.maxBodyBytes,
    tls: config.tlsCertFile !== undefined,
    observability,
    limiter,
    ...(bruteForce ? { bruteForce } : {}),
    onFailedOpen,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    maxRequestsPerClient: config.maxRequestsPerClient,
    headersWithUnderscores: config.headersWithUnderscores,
    securityHeaders: securityHeaderValues,
  });
  // HTTPS when a certificate is configured: a bad pair at start stops the process (the
  // error names the files); later, a bad pair is refused and the previous one keeps serving.
  const keyPair: KeyPair | undefined = config.tlsCertFile
    ? readKeyPair(config.tlsCertFile, config.tlsKeyFile as string)
    : undefined;
  const serverOptions: ServerOptions = {
    insecureHTTPParser: false,
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requireHostHeader: true,
  };
  // A request the strict parser refuses never reaches the data plane: answered here, on the
  // socket (fastify's default handler would write its own JSON, even into a response
  // already under way). A response already started on this connection (the request
  // timeout passed while the upstream's answer streams, or a pipelined request was
  // malformed): an answer written now would land inside it and the client would read it
  // as that response's bytes, so the connection is cut instead, as Node's own handler does.
  const rawSecurityHeaders = securityHeaderLines(securityHeaders);
  const clientError = (err: Error & { code?: string }, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) return socket.destroy();
    const status =
      err.code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "408 Request Timeout"
          : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\n${rawSecurityHeaders}connection: close\r\n\r\n`);
  };
  // fastify hosts the data plane (ADR 0002: it costs nothing measurable here) but does no
  // routing of its own: every request, including those it would call 404 or a bad URL, is
  // handed over raw to the data plane, which routes on the current snapshot. The server
  // itself is ours: strict parsing (never insecureHTTPParser), bounded head and timeouts.
  const dataApp = Fastify({
    logger: false,
    requestIdHeader: false,
    serverFactory: (handler) =>
      keyPair
        ? createHttpsServer({ ...serverOptions, ...keyPair, minVersion: "TLSv1.2" }, handler)
        : createServer(serverOptions, handler),
    frameworkErrors: (_error, request, reply) => handOver(request, reply),
    clientErrorHandler: clientError,
  });
  const handOver = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    if (draining) reply.raw.shouldKeepAlive = false;
    dataPlane.handleRequest(request.raw, reply.raw);
  };
  // Bodies stream through to the upstream untouched: no fastify body parsing.
  dataApp.removeAllContentTypeParsers();
  dataApp.addContentTypeParser("*", (_request, _payload, done) => done(null));
  dataApp.all("/*", handOver);
  dataApp.setNotFoundHandler(handOver);
  const server = dataApp.server;
  // Upgraded sockets leave the server's connection list: shutdown closes them itself.
  const upgraded = new Set<Duplex>();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
    dataPlane.handleUpgrade(req, socket, head);
  });

  connections = () => openConnections;
  let openConnections = 0;
  server.on(config.tlsCertFile ? "secureConnection" : "connection", (socket: Duplex) => {
    openConnections++;
    socket.once("close", () => openConnections--);
  });

  const admin: FastifyInstance = Fastify({ logger: false });
  // Endpoints that change something need the admin token, or (without one) a loopback client:
  // in a pod the admin port is open to the kubelet's probes, not to be reconfigured.
  admin.addHook("onRequest", async (request, reply) => {
    // Reads are open (probes, scrapes), except a rate-limit key's state, which says who is busy.
    if ((request.method === "GET" || request.method === "HEAD") && !request.url.startsWith("/ratelimit/"))
      return;
    const allowed = config.adminToken
      ? request.headers.authorization === `Bearer ${config.adminToken}`
      : isLoopback(request.socket.remoteAddress);
    if (!allowed) return reply.code(403).send({ error: "admin token required" });
  });
  admin.get("/metrics", async (_req, reply) => {
    if (!metrics) return reply.code(404).send({ error: "metrics are off (--metrics=false)" });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // Rate-limit state of one key: GET to read it, DELETE to reset it (counters and block).
  // ?key= is the value the rule counts by: a client address, consumer, tenant, header or claim value.
  const limitCheck = (request: FastifyRequest): LimitCheck | string => {
    const { namespace, policy, rule } = request.params as { namespace: string; policy: string; rule: string };
    const id = `${namespace}/${policy}`;
    const found = loader.current?.rateLimits.get(id)?.rules.find((r) => r.name === rule);
    if (!found) return `no rule "${rule}" in RateLimitPolicy ${id} of the snapshot being served`;
    const raw = (request.query as { key?: string }).key;
    const key =
      found.key.type === "Global"
        ? GLOBAL_KEY
        : raw === undefined
          ? undefined
          : found.key.type === "ClientIP"
            ? clientIpKey(raw)
            : raw;
    return { policyId: id, rule: found, key };
  };
  admin.get("/ratelimit/:namespace/:policy/:rule", async (request, reply) => {
    const check = limitCheck(request);
    if (typeof check === "string") return reply.code(404).send({ error: check });
    try {
      return await limiter.inspect(check);
    } catch (err) {
      return reply.code(503).send({ error: (err as Error).message });
    }
  });
  admin.delete("/ratelimit/:namespace/:policy/:rule", async (request, reply) => {
    const check = limitCheck(request);
    if (typeof check === "string") return reply.code(404).send({ error: check });
    try {
      await limiter.reset(check);
      log.info({ policy: check.policyId, rule: check.rule.name }, "rate-limit key reset by admin");
      return { reset: true };
    } catch (err) {
      return reply.code(503).send({ error: (err as Error).message });
    }
  });
  // The log level at runtime: PUT /log-level?level=debug (trace, debug, info, warn, error, fatal).
  admin.put("/log-level", async (request, reply) => {
    const level = (request.query as { level?: string }).level ?? "";
    if (!Object.hasOwn(log.levels.values, level)) {
      return reply
        .code(400)
        .send({ error: `level must be one of ${Object.keys(log.levels.values).join(", ")}` });
    }
    log.level = level;
    log.info({ level }, "log level changed");
    return { level };
  });
  admin.get("/healthz", async () => ({ status: "ok" }));
  admin.get("/readyz", async (_req, reply) => {
    const ready = loader.current !== undefined && !draining;
    return reply.code(ready ? 200 : 503).send({ ready, draining, version: loader.status.version ?? null });
  });
  admin.get("/status", async () => ({
    ...loader.status,
    ...(config.configDir ? { objects: objectProblems } : {}),
    draining,
    pools: [...(loader.current?.pools.values() ?? [])].map((p) => p.describe()),
  }));

  const certificates =
    keyPair &&
    watchTlsFiles(keyPair, {
      certFile: config.tlsCertFile as string,
      keyFile: config.tlsKeyFile as string,
      onChange: (pair) => {
        (server as unknown as TlsServer).setSecureContext(pair);
        log.info({ certFile: config.tlsCertFile }, "TLS certificate reloaded");
      },
      onError: (err) =>
        log.error({ err: err.message }, "TLS certificate not reloaded; the previous one keeps serving"),
    });

  const { host: dataHost, port: dataPort } = splitAddress(config.listen);
  await dataApp.listen({ host: dataHost, port: dataPort });
  const dataAddress = server.address() as AddressInfo;
  const { host: adminHost, port: adminPort } = splitAddress(config.adminListen);
  await admin.listen({ host: adminHost, port: adminPort });
  const adminAddress = admin.server.address() as AddressInfo;
  log.info({ listen: dataAddress, admin: adminAddress }, "gateway listening");

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      draining = true;
      const sourceClosed = watcher.close();
      certificates?.close();
      log.info({ drainMs: config.drainMs }, "draining");
      // Stop accepting; idle keep-alive connections close now, busy ones after their response.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Connections whose response ends become idle: close them as they do (no per-request
      // listener on the hot path for this).
      server.closeIdleConnections();
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.drainMs).unref());
      await Promise.race([closed, deadline]);
      clearInterval(sweeper);
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await Promise.all([admin.close(), loader.close(), sourceClosed, tracing?.shutdown(), limiter.close()]);
      clearInterval(accessLogFlush);
      observability.flush();
      try {
        // Bounded: a stdout nobody reads must not hold the shutdown.
        await Promise.race([accessLogFile?.close(), sleep(2_000, undefined, { ref: false })]);
      } catch {
        // stdout closed or broken: the last lines are lost, the shutdown goes on.
      }
      log.info("stopped");
    })();
    return shuttingDown;
  };

  return { dataAddress, adminAddress, loader, reload, shutdown };
}
