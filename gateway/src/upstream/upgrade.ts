// Upgraded connections (WebSocket): the handshake goes through the same routing, headers
// and endpoint choice as any request; after the upstream's 101 the two sockets are joined
// and bytes flow both ways until either side closes.
//
// Only what admission judged is relayed: a GET asking for `websocket`, with no body.
// Anything else is refused with a 400 before routing, because after a 101 the gateway
// sees only bytes. A POST relayed as the GET a handshake needs would pass an AuthzPolicy
// rule written for POST; `Upgrade: h2c` would let the client speak HTTP/2 straight to the
// upstream, past every route and policy (Envoy refuses it too); other protocols are not
// WebSocket and nobody has asked for them; a body would reach the upstream as the first
// bytes of the upgraded stream.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { ProblemKind } from "../problem.ts";
import type { BackendPoolRuntime } from "./backend-pool.ts";
import type { UpstreamRule } from "./upstream-rule.ts";

function refuse(socket: Duplex, status: string) {
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}

/** Why the gateway will not relay this upgrade request, or undefined when it will. */
export function upgradeProblem(req: IncomingMessage): string | undefined {
  const asked = req.headers.upgrade;
  const protocol = (Array.isArray(asked) ? asked.join(", ") : (asked ?? "")).trim();
  if (protocol.toLowerCase() === "h2c")
    return "Upgrade: h2c is refused (HTTP/2 cleartext upgrades would bypass the gateway)";
  if (protocol.toLowerCase() !== "websocket")
    return `only "Upgrade: websocket" is relayed (got ${JSON.stringify(protocol)})`;
  if (req.method !== "GET") return `a WebSocket handshake must be a GET (got ${req.method})`;
  const length = req.headers["content-length"];
  if (req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0"))
    return "an upgrade request must not have a body";
  return undefined;
}

/** Answers an upgrade request with an application/problem+json refusal and closes. */
export function refuseUpgrade(
  socket: Duplex,
  problem: ProblemKind,
  detail?: string,
  headers: Record<string, string> = {},
) {
  const body = JSON.stringify({
    type: problem.type,
    title: problem.title,
    status: problem.status,
    ...(detail ? { detail } : {}),
  });
  let extra = "";
  for (const name in headers) extra += `${name}: ${headers[name]}\r\n`;
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
  );
}

function headLines(statusCode: number, headers: Record<string, string | string[] | undefined>): string {
  let out = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) out += `${name}: ${value}\r\n`;
  }
  return `${out}\r\n`;
}

export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  rule: UpstreamRule,
  path: string,
  headers: Record<string, string | string[]>,
  hashKey: (pool: BackendPoolRuntime) => string | undefined,
) {
  const pool = rule.pickBackend()?.pool;
  if (!pool) return refuse(socket, "500 Internal Server Error");
  if (pool.atCapacity()) return refuse(socket, "503 Service Unavailable");
  const endpoint = pool.pick(hashKey(pool));
  if (!endpoint) return refuse(socket, "503 Service Unavailable");
  // upgradeProblem let only a GET for websocket through: relay exactly that.
  const protocol = req.headers.upgrade ?? "websocket";
  socket.on("error", () => socket.destroy());
  pool.inflight++;
  endpoint.inflight++;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    pool.inflight--;
    endpoint.inflight--;
  };
  // Set once the client has its answer: the abort after a refusal reports an error too.
  let answered = false;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onRequestUpgrade(_controller, statusCode, upstreamHeaders, upstream) {
      answered = true;
      pool.recordSuccess(endpoint);
      socket.write(headLines(statusCode, upstreamHeaders as Record<string, string | string[] | undefined>));
      if (head.length > 0) upstream.write(head);
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => {
        upstream.destroy();
        release();
      });
      upstream.on("close", () => socket.destroy());
      upstream.pipe(socket);
      socket.pipe(upstream);
    },
    onResponseStart(controller, statusCode) {
      // The upstream answered without upgrading: pass on a plain refusal.
      answered = true;
      refuse(socket, `${statusCode >= 500 ? 502 : statusCode} Upgrade Refused`);
      controller.abort(new Error("upgrade refused"));
      release();
    },
    onResponseError(_controller, _err) {
      if (answered) return;
      answered = true;
      pool.recordFailure(endpoint);
      refuse(socket, "502 Bad Gateway");
      release();
    },
  };
  endpoint.dispatcher.dispatch(
    { path, method: req.method ?? "GET", headers, upgrade: Array.isArray(protocol) ? protocol[0] : protocol },
    handler,
  );
}
