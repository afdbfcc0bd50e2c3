// The one admin listener both processes run (--admin-listen): the probes, the log level,
// /metrics and the auth rule are here, so the operator and the gateway answer them alike;
// each process adds its own routes (/status, the gateway's rate-limit keys) through `routes`.
//
// fastify rather than node:http: the gateway's routes take path parameters and query
// strings, HEAD comes with every GET, and fastify is already the gateway's dependency, so
// the operator gains nothing new to install. The listener is also what keeps the operator
// alive while the API server is unreachable (its watches and timers are unref'd).
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { isLoopback } from "./loopback.ts";

/** What /readyz answers: 200 when `ready`, 503 otherwise, with the details as they are. */
export interface Readiness {
  ready: boolean;
  /** Why not ready, for people reading a failed probe. */
  reason?: string;
  [detail: string]: unknown;
}

/** The log whose level PUT /log-level?level=debug changes (a pino Logger fits). */
export interface AdjustableLog {
  level: string;
  readonly levels: { values: Record<string, number> };
  info(details: object, message: string): void;
}

/** The Prometheus registry /metrics serves (prom-client's Registry fits). */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  readiness: () => Readiness;
  /** Without it, /metrics answers 404 (the gateway's --metrics=false). */
  metrics?: MetricsRegistry | undefined;
  log?: AdjustableLog | undefined;
  /** Required, as `Authorization: Bearer …`, by guarded endpoints; without it they answer loopback clients only. */
  adminToken?: string | undefined;
  /** The process's own routes; a read that must be guarded too passes `GUARDED` as its options. */
  routes?: (admin: FastifyInstance) => void;
}

/** Route options for a read that says more than probes and scrapes may know. */
export const GUARDED = { config: { guarded: true } } as const;

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startAdminServer(o: AdminServerOptions): Promise<AdminServer> {
  const admin = Fastify({ logger: false });
  // What changes something (any method but GET/HEAD), and reads marked GUARDED, need the
  // admin token, or without one a loopback client: in a pod the admin port is open to the
  // kubelet's probes and Prometheus, not to be reconfigured. Checked before routing, so an
  // unknown path tells a stranger nothing.
  admin.addHook("onRequest", async (request, reply) => {
    const read = request.method === "GET" || request.method === "HEAD";
    const guarded = (request.routeOptions.config as { guarded?: boolean } | undefined)?.guarded === true;
    if (read && !guarded) return;
    const allowed = o.adminToken
      ? request.headers.authorization === `Bearer ${o.adminToken}`
      : isLoopback(request.socket.remoteAddress);
    if (!allowed)
      return reply.code(403).send({ error: o.adminToken ? "admin token required" : "only from loopback" });
  });
  admin.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: "not found" }));

  admin.get("/healthz", async () => ({ status: "ok" }));
  admin.get("/readyz", async (_request, reply) => {
    const readiness = o.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
  admin.get("/metrics", async (_request, reply) => {
    if (!o.metrics) return reply.code(404).send({ error: "metrics are off (--metrics=false)" });
    return reply.type(o.metrics.contentType).send(await o.metrics.metrics());
  });
  const log = o.log;
  if (log) {
    // trace, debug, info, warn, error, fatal (whatever the logger knows).
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
  }
  o.routes?.(admin);

  await admin.listen({ host: o.host, port: o.port });
  return { address: admin.server.address() as AddressInfo, close: () => admin.close() };
}
