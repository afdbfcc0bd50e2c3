// A JWKS fetched from an identity provider, cached and kept fresh without ever making a
// request wait when keys are at hand:
// - refresh in the background once the keys are older than `refreshIntervalMs`;
// - a token naming an unknown kid triggers one refetch (the IdP may have just rotated),
//   but at most one fetch per `cooldownMs`, so random kids cannot make us hammer the IdP;
// - concurrent callers share one in-flight fetch;
// - when the IdP errors or times out the last good keys keep serving (stale);
// - a fetch is bounded in time (`timeoutMs`) and in size (`maxBytes`).
// jose's createRemoteJWKSet has the first parts but neither a size bound nor stale keys
// once its cache age passes, hence this small cache around fetch.
import { type CryptoKey, errors, type JWSHeaderParameters } from "jose";
import { InvalidArgumentError, JwksUnavailableError } from "../../../core/api/errors.ts";
import { type KeySet, keySetFrom } from "./key-set.ts";

export interface RemoteJwksOptions {
  timeoutMs: number;
  refreshIntervalMs: number;
  cooldownMs: number;
  maxBytes: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export const REMOTE_JWKS_DEFAULTS: RemoteJwksOptions = {
  timeoutMs: 5_000,
  refreshIntervalMs: 300_000,
  cooldownMs: 30_000,
  maxBytes: 256 * 1024,
};

/** Keys could not be had: the IdP has not answered since we started (SLUICE_JWKS_UNAVAILABLE). */
export { JwksUnavailableError as KeysUnavailableError };

async function readBounded(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new Error(`JWKS larger than ${maxBytes} bytes`);
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`JWKS larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class RemoteJwks {
  readonly uri: string;
  readonly #options: RemoteJwksOptions;
  readonly #now: () => number;
  #keys: KeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  /** Fetches started (tests and metrics). */
  fetches = 0;
  /** Why the last fetch failed, for logs; cleared by a success. */
  lastError: string | undefined;

  constructor(uri: string, options: Partial<RemoteJwksOptions> = {}) {
    this.uri = uri;
    this.#options = { ...REMOTE_JWKS_DEFAULTS, ...options };
    for (const k of ["timeoutMs", "refreshIntervalMs", "cooldownMs", "maxBytes"] as const) {
      const v = this.#options[k];
      if (!Number.isFinite(v) || v < 0)
        throw new InvalidArgumentError(`RemoteJwks: ${k} must be a number ≥ 0`);
    }
    this.#now = options.now ?? Date.now;
  }

  /** The options this cache was made with; a cache is reused across snapshots only if they match. */
  get options(): Readonly<RemoteJwksOptions> {
    return this.#options;
  }

  /** Starts the first fetch without waiting for it (at snapshot load). */
  warm(): void {
    if (!this.#keys) void this.#refresh().catch(() => {});
  }

  async keyFor(header: JWSHeaderParameters): Promise<CryptoKey> {
    if (!this.#keys) {
      await this.#refresh().catch(() => {});
      if (!this.#keys) throw new JwksUnavailableError(`no keys from ${this.uri}`);
    } else if (this.#now() - this.#fetchedAt >= this.#options.refreshIntervalMs) {
      void this.#refresh().catch(() => {});
    }
    const keys: KeySet = this.#keys;
    try {
      return await keys.select(header);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      await this.#refresh().catch(() => {});
      if (this.#keys === keys) throw err;
      return await this.#keys.select(header);
    }
  }

  /** Fetches unless one is under way (then joins it) or the cooldown has not passed. */
  #refresh(): Promise<void> {
    if (this.#pending) return this.#pending;
    if (this.#now() - this.#attemptedAt < this.#options.cooldownMs) return Promise.resolve();
    this.#attemptedAt = this.#now();
    this.fetches++;
    this.#pending = this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<void> {
    const fetchImpl = this.#options.fetch ?? fetch;
    try {
      const res = await fetchImpl(this.uri, {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { accept: "application/jwk-set+json, application/json" },
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`HTTP ${res.status}`);
      }
      const text = await readBounded(res, this.#options.maxBytes);
      this.#keys = keySetFrom(JSON.parse(text));
      this.#fetchedAt = this.#now();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }
}
