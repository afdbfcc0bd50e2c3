// Upgraded connections (WebSocket): the handshake goes through the same routing, headers
// and endpoint choice as any request; after the upstream's 101 the two sockets are joined
// and bytes flow both ways until either side closes.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { RuleRuntime } from "../runtime/rule-runtime.ts";
import type { BackendPoolRuntime } from "./backend-pool.ts";

function refuse(socket: Duplex, status: string) {
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
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
  rule: RuleRuntime,
  path: string,
  headers: Record<string, string | string[]>,
  hashKey: (pool: BackendPoolRuntime) => string | undefined,
) {
  const pool = rule.pickBackend()?.pool;
  if (!pool) return refuse(socket, "500 Internal Server Error");
  if (pool.atCapacity()) return refuse(socket, "503 Service Unavailable");
  const endpoint = pool.pick(hashKey(pool));
  if (!endpoint) return refuse(socket, "503 Service Unavailable");
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
    { path, method: "GET", headers, upgrade: Array.isArray(protocol) ? protocol[0] : protocol },
    handler,
  );
}
