// The admin listener (--admin-listen): probes (/healthz, /readyz), /status, /metrics, the
// log level, and rate-limit keys (admin-ratelimit.ts). Reads are open to probes and
// scrapes; what changes something needs the admin token, or without one a loopback client.
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import type { Logger } from "pino";
import { isLoopback } from "../../core/admin/loopback.ts";
import { rateLimitRoutes } from "./admin-ratelimit.ts";
import { splitAddress } from "./config.ts";
import type { GatewayMetrics } from "./observability/gateway-metrics.ts";
import type { Limiter } from "./ratelimit/types.ts";
import type { SnapshotLoader } from "./snapshot/loader.ts";
import type { SnapshotSource } from "./sources/source.ts";

export interface AdminApiDeps {
  listen: string;
  adminToken?: string | undefined;
  log: Logger;
  metrics: GatewayMetrics | undefined;
  loader: SnapshotLoader;
  source: SnapshotSource;
  limiter: Limiter;
  /** True once shutdown started. */
  draining: () => boolean;
}

export interface AdminApi {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startAdminApi(d: AdminApiDeps): Promise<AdminApi> {
  const { log, metrics, loader } = d;
  const admin = Fastify({ logger: false });
  // Endpoints that change something need the admin token, or (without one) a loopback client:
  // in a pod the admin port is open to the kubelet's probes, not to be reconfigured.
  admin.addHook("onRequest", async (request, reply) => {
    // Reads are open (probes, scrapes), except a rate-limit key's state, which says who is busy.
    if ((request.method === "GET" || request.method === "HEAD") && !request.url.startsWith("/ratelimit/"))
      return;
    const allowed = d.adminToken
      ? request.headers.authorization === `Bearer ${d.adminToken}`
      : isLoopback(request.socket.remoteAddress);
    if (!allowed) return reply.code(403).send({ error: "admin token required" });
  });
  admin.get("/metrics", async (_req, reply) => {
    if (!metrics) return reply.code(404).send({ error: "metrics are off (--metrics=false)" });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  rateLimitRoutes(admin, loader, d.limiter, log);
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
    const draining = d.draining();
    const ready = loader.current !== undefined && !draining;
    return reply.code(ready ? 200 : 503).send({ ready, draining, version: loader.status.version ?? null });
  });
  admin.get("/status", async () => ({
    ...loader.status,
    ...(d.source.objects ? { objects: d.source.objects() } : {}),
    draining: d.draining(),
    pools: [...(loader.current?.pools.values() ?? [])].map((p) => p.describe()),
  }));

  const { host, port } = splitAddress(d.listen);
  await admin.listen({ host, port });
  return { address: admin.server.address() as AddressInfo, close: () => admin.close() };
}
