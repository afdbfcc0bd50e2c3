// Per-key usage, counted in memory on each replica: accepted requests and the last time.
// The operator reads these periodically to put them in the ApiKey's status; a status
// write per request would be a write storm on the API server.

export interface ApiKeyUsageEntry {
  /** namespace/name of the ApiKey. */
  id: string;
  requests: number;
  /** Epoch milliseconds of the last accepted request. */
  lastUsedMs: number;
}

export class ApiKeyUsage {
  readonly #entries = new Map<string, { requests: number; lastUsedMs: number }>();

  record(id: string, nowMs: number): void {
    const e = this.#entries.get(id);
    if (e) {
      e.requests++;
      e.lastUsedMs = nowMs;
    } else this.#entries.set(id, { requests: 1, lastUsedMs: nowMs });
  }

  /** A copy of every counter since the process started (cumulative), sorted by id. */
  read(): ApiKeyUsageEntry[] {
    return [...this.#entries]
      .map(([id, e]) => ({ id, ...e }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
