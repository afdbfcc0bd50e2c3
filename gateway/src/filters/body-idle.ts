// A request body that stops arriving. While the body streams upstream the request holds
// an upstream connection and a place in the pool's circuit breaker; a client that sends
// a few bytes and then nothing would hold them until --request-timeout-ms (minutes).
// The socket's idle timer (reset by every byte read or written) measures the stall, so
// nothing runs per chunk.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Problem, sendProblem } from "../problem.ts";

/**
 * Answers 408 request-body-timeout (and closes the connection) when no byte of the body
 * arrives for `idleMs`. Data already buffered in the request means the gateway, not the
 * client, stopped reading (the upstream is slow to take it): the wait goes on.
 */
export function watchBodyIdle(
  req: IncomingMessage,
  res: ServerResponse,
  idleMs: number,
  requestId: string,
): void {
  if (idleMs <= 0 || req.complete) return;
  const socket = req.socket;
  // The server emits 'timeout' on an incomplete request before it would destroy the socket.
  req.on("timeout", () => {
    if (req.complete || res.writableEnded) return;
    if (req.readableLength > 0) {
      socket.setTimeout(idleMs);
      return;
    }
    sendProblem(res, Problem.RequestBodyTimeout, `no byte of the request body for ${idleMs} ms`, {
      connection: "close",
      "x-request-id": requestId,
    });
  });
  socket.setTimeout(idleMs);
  // Body complete: the response may take as long as the route allows.
  req.once("end", () => {
    if (!res.writableEnded) socket.setTimeout(0);
  });
}
