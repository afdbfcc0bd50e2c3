// A bounded map for per-request work that repeats: address parsing and key hashing in the
// limiter, presented API keys, verified tokens, quoted header names. Clients repeat, so
// the same inputs come back again and again. Oldest entries go first once `max` is
// reached, so a client rotating values cannot grow it.
export class BoundedCache<T> {
  readonly #max: number;
  readonly #entries = new Map<string, T>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The cached value, made (and cached) on a miss — `undefined` results included. */
  get(key: string, make: () => T): T {
    const hit = this.#entries.get(key);
    if (hit !== undefined || this.#entries.has(key)) return hit as T;
    const value = make();
    this.set(key, value);
    return value;
  }

  /** The cached value, if any; for callers that decide themselves what is worth keeping. */
  peek(key: string): T | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: T): void {
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
