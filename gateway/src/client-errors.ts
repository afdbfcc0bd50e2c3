// A request the strict parser refuses never reaches the data plane: it is answered here, on
// the socket (fastify's default handler would write its own JSON, even into a response
// already under way), with the security headers every answer carries.
import type { Duplex } from "node:stream";

/** The listener's clientError handler: 431 for an oversized head, 408 for a slow one, else 400. */
export function clientErrorHandler(rawSecurityHeaders: string) {
  return (err: Error & { code?: string }, socket: Duplex) => {
    // A response already started on this connection (the request timeout passed while the
    // upstream's answer streams, or a pipelined request was malformed): an answer written
    // now would land inside it and the client would read it as that response's bytes, so
    // the connection is cut instead, as Node's own handler does.
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
}
