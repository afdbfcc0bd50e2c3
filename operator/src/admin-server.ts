// The operator's admin listener: /healthz (the process runs), /readyz (every informer has
// listed once, so a standby can take over with a whole cache), /status (for people) and
// /metrics (Prometheus).
// It is also what keeps the process alive while the API server is unreachable: watches and
// timers are unref'd so stop() never hangs, and without an open listener Node would exit
// quietly as soon as the last connection to the API server died.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopback } from "../../core/admin/loopback.ts";
import type { OperatorHandle } from "./operator.ts";

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** The log level at runtime (PUT /log-level?level=debug), from loopback clients only. */
export interface LogLevel {
  level: string;
  readonly levels: { values: Record<string, number> };
}

export async function startAdminServer(
  host: string,
  port: number,
  operator: OperatorHandle,
  log?: LogLevel,
): Promise<AdminServer> {
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const url = new URL(req.url ?? "/", "http://admin");
    if (req.method === "PUT" && url.pathname === "/log-level" && log) {
      // In a pod the admin port is open to the kubelet's probes, not to be reconfigured.
      if (!isLoopback(req.socket.remoteAddress)) return send(403, { error: "only from loopback" });
      const level = url.searchParams.get("level") ?? "";
      if (!Object.hasOwn(log.levels.values, level))
        return send(400, { error: `level must be one of ${Object.keys(log.levels.values).join(", ")}` });
      log.level = level;
      return send(200, { level });
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, { error: "method not allowed" });
    switch (url.pathname) {
      case "/healthz":
        return send(200, { status: "ok" });
      case "/readyz":
        return operator.synced ? send(200, { status: "ready" }) : send(503, { status: "caches not synced" });
      case "/status":
        return send(200, {
          identity: operator.identity,
          leader: operator.isLeader,
          synced: operator.synced,
          version: operator.version ?? null,
        });
      case "/metrics": {
        const text = await operator.metrics.registry.metrics();
        res.writeHead(200, { "content-type": operator.metrics.registry.contentType });
        return res.end(text);
      }
      default:
        return send(404, { error: "not found" });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
