// The data-plane listener: HTTP, or HTTPS when a certificate is configured (reloaded when
// its files change), hosted by fastify, with open connections counted and upgraded
// sockets tracked. It closes by draining: stop accepting, let requests finish, cut the rest.
import cluster from "node:cluster";
import { createServer, type IncomingMessage, type ServerOptions, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, type ListenOptions, Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import type { Server as TlsServer } from "node:tls";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { clientErrorHandler } from "./client-errors.ts";
import { type GatewayConfig, splitAddress } from "./config.ts";
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
  // fastify hosts the data plane (ADR 0002: it costs nothing measurable here) but does no
  // routing of its own: every request, including those it would call 404 or a bad URL, is
  // handed over raw to the data plane, which routes on the current snapshot. The server
  // itself is ours: strict parsing (never insecureHTTPParser), bounded head and timeouts.
  const app = Fastify({
    logger: false,
    requestIdHeader: false,
    serverFactory: (handler) =>
      keyPair
        ? createHttpsServer({ ...serverOptions, ...keyPair, minVersion: "TLSv1.2" }, handler)
        : createServer(serverOptions, handler),
    frameworkErrors: (_error, request, reply) => handOver(request, reply),
    clientErrorHandler: clientErrorHandler(securityHeaderLines(securityHeaders)),
  });
  const handOver = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    if (draining) reply.raw.shouldKeepAlive = false;
    // The connection's latest response, for the drain to close the connection after it
    // (with pipelining, responses before it still go out).
    (request.raw.socket as TrackedSocket)[LATEST] = reply.raw;
    dataPlane.handleRequest(request.raw, reply.raw);
  };
  // Bodies stream through to the upstream untouched: no fastify body parsing.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  app.all("/*", handOver);
  app.setNotFoundHandler(handOver);
  const server = app.server;
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
  await app.listen({ host, port, ...(cluster.isWorker ? SHARED_PORT : {}) });
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
