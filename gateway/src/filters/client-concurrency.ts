// Requests in flight per client address. One client could otherwise hold a pool's whole
// circuit-breaker capacity (maxRequests, maxConnections) with slow requests, and every
// other client would get 503 circuit-open; capping each client's share keeps the rest of
// the pool for everyone else. The client is the address X-Forwarded-For names through
// trusted hops, or the socket peer.
import type { ServerResponse } from "node:http";

export class ClientConcurrency {
  readonly limit: number;
  readonly #inflight = new Map<string, number>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Counts the request against its client until its response closes (answered, or the
   * connection went away); false, and nothing counted, when the client is at the limit.
   */
  enter(client: string, res: ServerResponse): boolean {
    const n = this.#inflight.get(client) ?? 0;
    if (n >= this.limit) return false;
    this.#inflight.set(client, n + 1);
    res.once("close", () => this.#leave(client));
    return true;
  }

  /** Requests in flight for the client now. */
  inflight(client: string): number {
    return this.#inflight.get(client) ?? 0;
  }

  #leave(client: string) {
    const n = (this.#inflight.get(client) ?? 1) - 1;
    // Entries leave with their last request, so the map holds only busy clients.
    if (n <= 0) this.#inflight.delete(client);
    else this.#inflight.set(client, n);
  }
}
