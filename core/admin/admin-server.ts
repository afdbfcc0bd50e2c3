// The one admin listener both processes run (--admin-listen): the probes, the log level,
// /metrics and the auth rule are here, so the operator and the gateway answer them alike;
// each process adds its own routes (/status, the gateway's rate-limit keys) through `routes`.
//
// On node:http, with the few routes' matching written here (admin-routes.ts), not fastify:
// fastify and the packages it loads were ~5 MB of a gateway replica's peak memory, for
// a handful of fixed paths (ADR 0009). The listener is also what keeps the operator alive
// while the API server is unreachable (its watches and timers are unref'd).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type AdminReply, type AdminRoutes, RouteTable } from "./admin-routes.ts";
import { isLoopback } from "./loopback.ts";

export { type AdminReply, type AdminRequest, type AdminRoutes, GUARDED } from "./admin-routes.ts";

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
  routes?: (admin: AdminRoutes) => void;
}

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";

export async function startAdminServer(o: AdminServerOptions): Promise<AdminServer> {
  const table = new RouteTable();
  table.get("/healthz", async () => ({ status: "ok" }));
  table.get("/readyz", async (_request, reply) => {
    const readiness = o.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
  table.get("/metrics", async (_request, reply) => {
    if (!o.metrics) return reply.code(404).send({ error: "metrics are off (--metrics=false)" });
    return reply.type(o.metrics.contentType).send(await o.metrics.metrics());
  });
  const log = o.log;
  if (log) {
    // trace, debug, info, warn, error, fatal (whatever the logger knows).
    table.put("/log-level", async (request, reply) => {
      const level = request.query.get("level") ?? "";
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
  o.routes?.(table);

  const server = createServer((req, res) => {
    // No admin route takes a body: whatever comes is read and dropped.
    req.resume();
    answer(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON_TYPE, { error: (err as Error).message });
      else res.destroy();
    });
  });

  async function answer(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://admin");
    const method = req.method ?? "GET";
    const found = table.find(method === "HEAD" ? "GET" : method, url.pathname);
    // What changes something (any method but GET/HEAD), and reads marked GUARDED, need the
    // admin token, or without one a loopback client: in a pod the admin port is open to the
    // kubelet's probes and Prometheus, not to be reconfigured. Checked before the route's
    // existence is told, so an unknown path tells a stranger nothing.
    const read = method === "GET" || method === "HEAD";
    if (!read || found?.route.guarded) {
      const allowed = o.adminToken
        ? req.headers.authorization === `Bearer ${o.adminToken}`
        : isLoopback(req.socket.remoteAddress);
      if (!allowed) {
        return send(res, 403, JSON_TYPE, {
          error: o.adminToken ? "admin token required" : "only from loopback",
        });
      }
    }
    if (!found) return send(res, 404, JSON_TYPE, { error: "not found" });
    const reply: AdminReply = new Reply();
    const result = await found.route.handler({ params: found.params, query: url.searchParams }, reply);
    const sent = result instanceof Reply ? result : undefined;
    const body = sent ? sent.body : result;
    send(res, sent?.status ?? 200, sent?.contentType ?? JSON_TYPE, body, method === "HEAD");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections (a scraper's) would hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}

/** What a handler answers when it is not a 200 with a JSON body. */
class Reply implements AdminReply {
  status = 200;
  contentType: string | undefined;
  body: unknown;
  code(status: number) {
    this.status = status;
    return this;
  }
  type(contentType: string) {
    this.contentType = contentType;
    return this;
  }
  send(body: unknown) {
    this.body = body;
    return this;
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: unknown, headOnly = false) {
  const text = typeof body === "string" ? body : JSON.stringify(body ?? null);
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(headOnly ? undefined : text);
}
