// API-key usage of a pod with workers, for its one replica report: each worker counts the
// requests of its keys (auth/api-key-usage.ts) and sends its cumulative counts every few
// seconds; the totals are their sum, with the last counts of workers that exited kept in.
import type { ApiKeyUsageEntry } from "../auth/api-key-usage.ts";

export class UsageTotals {
  /** By worker pid: its latest cumulative counts. */
  readonly #workers = new Map<number, ApiKeyUsageEntry[]>();
  readonly #retired = new Map<string, { requests: number; lastUsedMs: number }>();

  update(pid: number, entries: ApiKeyUsageEntry[]): void {
    this.#workers.set(pid, entries);
  }

  retire(pid: number): void {
    for (const e of this.#workers.get(pid) ?? []) add(this.#retired, e);
    this.#workers.delete(pid);
  }

  /** Every key's requests summed and last use, sorted by id (as ApiKeyUsage.read()). */
  read(): ApiKeyUsageEntry[] {
    const totals = new Map([...this.#retired].map(([id, e]) => [id, { ...e }]));
    for (const entries of this.#workers.values()) for (const e of entries) add(totals, e);
    return [...totals]
      .map(([id, e]) => ({ id, ...e }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

function add(totals: Map<string, { requests: number; lastUsedMs: number }>, e: ApiKeyUsageEntry): void {
  const t = totals.get(e.id);
  if (!t) totals.set(e.id, { requests: e.requests, lastUsedMs: e.lastUsedMs });
  else {
    t.requests += e.requests;
    t.lastUsedMs = Math.max(t.lastUsedMs, e.lastUsedMs);
  }
}
