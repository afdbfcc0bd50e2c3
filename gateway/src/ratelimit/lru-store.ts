// A bounded, expiring map for the in-memory limiter. A Map keeps insertion order, so moving
// an entry to the end on use and evicting from the front is an LRU without extra structure.
// Evicting a key forgets its count (it starts fresh), so the bound should comfortably exceed
// the number of keys active within one period.
import { InvalidArgumentError } from "../../../core/api/errors.ts";
import type { AlgorithmState } from "./algorithm-step.ts";
import type { StateStore } from "./check-rules.ts";

interface Entry {
  /** Undefined for block markers. */
  state: AlgorithmState | undefined;
  expiresAt: number;
}

export class LruStateStore implements StateStore {
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();

  constructor(maxKeys: number) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new InvalidArgumentError("maxKeys must be a positive integer");
    this.#max = maxKeys;
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e;
  }

  #put(key: string, entry: Entry) {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  getState(key: string, now: number): AlgorithmState | undefined {
    const s = this.#live(key, now)?.state;
    return s ? { ...s } : undefined;
  }

  setState(key: string, state: AlgorithmState, ttlMs: number, now: number) {
    this.#put(key, { state: { ...state }, expiresAt: now + ttlMs });
  }

  blockedForMs(key: string, now: number): number {
    const e = this.#live(key, now);
    return e ? e.expiresAt - now : 0;
  }

  startBlock(key: string, ms: number, now: number) {
    this.#put(key, { state: undefined, expiresAt: now + ms });
  }

  delete(key: string) {
    this.#entries.delete(key);
  }
}
