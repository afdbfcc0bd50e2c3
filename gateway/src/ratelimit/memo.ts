// A bounded cache for the per-request key work (address parsing, SHA-256 of key values):
// clients repeat, so the same inputs come back again and again. Oldest entries go first
// once `max` is reached, so a client rotating values cannot grow it.
export class BoundedCache<T> {
  readonly #max: number;
  readonly #entries = new Map<string, T>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, make: () => T): T {
    const hit = this.#entries.get(key);
    if (hit !== undefined || this.#entries.has(key)) return hit as T;
    const value = make();
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    return value;
  }
}
