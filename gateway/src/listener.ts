// The data-plane listener: HTTP, or HTTPS when a certificate is configured (reloaded when
// its files change), on bare node:http (ADR 0005), with open connections counted and
// upgraded sockets tracked. It closes by draining: stop accepting, let requests finish,
// cut the rest.
import cluster from "node:cluster";
import { createServer, type IncomingMessage, type ServerOptions, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, type ListenOptions, Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import type { Server as TlsServer } from "node:tls";
import type { Logger } from "pino";
import { splitAddress } from "../../core/admin/address.ts";
import { clientErrorHandler } from "./client-errors.ts";
import type { GatewayConfig } from "./config.ts";
import type { DataPlane } from "./data-plane.ts";
import {
  compileSecurityHeaders,
  SecurityHeadersResponse,
  securityHeaderLines,
} from "./filters/security-headers.ts";
import { readKeyPair, watchTlsFiles } from "./sources/tls-files.ts";

const LATEST = Symbol("latest response");
/** How long a drain leaves idle keep-alive connections to their clients before closing them. */
const IDLE_GRACE_MS = 1000;
type TrackedSocket = Duplex & { [LATEST]?: ServerResponse };
const SHARED_PORT: ListenOptions = { reusePort: true, exclusive: true };

export interface Listener {
  readonly address: AddressInfo;
  /** Open client connections (TLS: those past the handshake), for the metrics gauge. */
  readonly connections: number;
  /** True once draining started: /readyz answers 503 and responses close their connection. */
  readonly draining: boolean;
  /**
   * Drains: stops accepting, closes busy connections after their response and idle
   * keep-alive ones with their next response or once idle for a second, and after
   * `drainMs` cuts what is left (upgraded sockets included).
   */
  close(drainMs: number): Promise<void>;
}

export async function startListener(
  config: GatewayConfig,
  dataPlane: DataPlane,
  log: Logger,
): Promise<Listener> {
  // HTTPS when a certificate is configured: a bad pair at start stops the process (the
  // error names the files); later, a bad pair is refused and the previous one keeps serving.
  const keyPair = config.tlsCertFile
    ? readKeyPair(config.tlsCertFile, config.tlsKeyFile as string)
    : undefined;
  const serverOptions: ServerOptions = {
    insecureHTTPParser: false,
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requireHostHeader: true,
    // Adds the security headers when a head is written (filters/security-headers.ts).
    ServerResponse: SecurityHeadersResponse as typeof ServerResponse,
  };
  const securityHeaders = compileSecurityHeaders(
    config.securityHeaders ? config : {},
    config.tlsCertFile !== undefined,
  );
  let draining = false;
  // Every request, including one with a target or Host the data plane will refuse, goes
  // raw to the data plane, which routes on the current snapshot. The server itself is
  // ours: strict parsing (never insecureHTTPParser), bounded head and timeouts. No
  // framework in between (ADR 0005: fastify's lifecycle cost ~5 % of a proxied request).
  const handOver = (req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    // The connection's latest response, for the drain to close the connection after it
    // (with pipelining, responses before it still go out).
    (req.socket as TrackedSocket)[LATEST] = res;
    dataPlane.handleRequest(req, res);
  };
  const server = keyPair
    ? createHttpsServer({ ...serverOptions, ...keyPair, minVersion: "TLSv1.2" }, handOver)
    : createServer(serverOptions, handOver);
  server.on("clientError", clientErrorHandler(securityHeaderLines(securityHeaders)));
  // Upgraded sockets leave the server's connection list: close() destroys them itself.
  const upgraded = new Set<Duplex>();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
    dataPlane.handleUpgrade(req, socket, head);
  });
  const sockets = new Set<Duplex>();
  server.on(keyPair ? "secureConnection" : "connection", (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
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

  const { host, port } = splitAddress(config.listen);
  // A --workers worker binds the port itself, as do its siblings (exclusive: not through the
  // primary's handle), and the kernel spreads connections over them (reusePort: SO_REUSEPORT).
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, ...(cluster.isWorker ? SHARED_PORT : {}) }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    get connections() {
      return sockets.size;
    },
    get draining() {
      return draining;
    },
    close: async (drainMs) => {
      draining = true;
      certificates?.close();
      log.info({ drainMs }, "draining");
      // Stop accepting, but do not cut idle keep-alive connections yet: a client may be
      // writing its next request on one right now, and cutting it would reset that request
      // (seen on a real cluster during evictions). Each connection's next response says
      // `Connection: close` (above), so a client in use leaves by itself; what is still idle
      // after IDLE_GRACE_MS has not been used for that long and is closed then.
      // http.Server#close would close idle connections at once (Node ≥ 19); net's does not.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      // Connections with a response still under way close after it, though its request
      // came before the drain: by saying so in its head, or, head already sent, by ending
      // the connection once it is done. Idle ones are left to their keep-alive timeout.
      for (const socket of sockets) {
        const res = (socket as TrackedSocket)[LATEST];
        if (!res || res.writableFinished) continue;
        if (!res.headersSent) res.shouldKeepAlive = false;
        else res.once("finish", () => socket.end());
      }
      let sweeper: NodeJS.Timeout | undefined;
      const grace = setTimeout(
        () => {
          server.closeIdleConnections();
          sweeper = setInterval(() => server.closeIdleConnections(), 250);
        },
        Math.min(IDLE_GRACE_MS, drainMs / 2),
      );
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
      await Promise.race([closed, deadline]);
      clearTimeout(grace);
      clearInterval(sweeper);
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
    },
  };
}
