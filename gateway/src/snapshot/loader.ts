// Snapshot loading: validate → build the runtime → swap one reference. A snapshot that
// fails either step is rejected with its reason and the last good one keeps serving.
// The old runtime's pools that the new one did not take over are closed after their
// in-flight requests end.

import { type GatewayError, SnapshotRejectedError } from "../../../core/api/errors.ts";
import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import { snapshotProblems } from "../../../core/api/snapshot/validate.ts";
import type { AuthRuntimeOptions } from "../auth/auth-runtime.ts";
import {
  buildRuntime,
  type GatewayRuntime,
  type RuntimeOptions,
  retire,
} from "../runtime/gateway-runtime.ts";
import type { PoolEvent } from "../upstream/backend-pool.ts";

export interface LoaderStatus {
  version: string | undefined;
  source: string | undefined;
  loadedAt: string | undefined;
  lastRejected: { version: string | undefined; source: string; reason: string; at: string } | undefined;
}

export interface SnapshotLoaderOptions {
  /** Id of this gateway's API-key hash key; a snapshot hashed with another is refused. */
  hashKeyId?: string;
  onLoaded?: (snapshot: Snapshot, source: string) => void;
  onRejected?: (error: GatewayError, source: string) => void;
  onPoolEvent?: (pool: string, e: PoolEvent) => void;
  /** Authentication settings of this gateway (default: the standalone hash key, no failure hook). */
  auth?: AuthRuntimeOptions;
  adjustPool?: RuntimeOptions["adjustPool"];
}

export class SnapshotLoader {
  #current: GatewayRuntime | undefined;
  readonly #options: SnapshotLoaderOptions;
  readonly status: LoaderStatus = {
    version: undefined,
    source: undefined,
    loadedAt: undefined,
    lastRejected: undefined,
  };

  constructor(options: SnapshotLoaderOptions = {}) {
    this.#options = options;
  }

  get current(): GatewayRuntime | undefined {
    return this.#current;
  }

  /** Loads a candidate snapshot; returns false (and keeps the current one) when it is rejected. */
  load(candidate: unknown, source: string): boolean {
    const version = (candidate as { version?: unknown })?.version;
    if (typeof version === "string" && version === this.#current?.version) return true;
    const problems = snapshotProblems(candidate);
    let next: GatewayRuntime;
    try {
      if (problems.length > 0) throw new Error(problems.slice(0, 5).join("; "));
      const keyId = (candidate as Snapshot).apiKeys.hashKeyId;
      if (this.#options.hashKeyId !== undefined && keyId !== this.#options.hashKeyId) {
        throw new Error(
          `API keys in this snapshot are hashed with key ${keyId}, this gateway's SLUICE_API_KEY_HASH_KEY is ${this.#options.hashKeyId}: it could not check any API key`,
        );
      }
      next = buildRuntime(candidate as Snapshot, this.#current, {
        ...(this.#options.onPoolEvent ? { onPoolEvent: this.#options.onPoolEvent } : {}),
        auth: this.#options.auth ?? { hashKey: "sluice-standalone" },
        ...(this.#options.adjustPool ? { adjustPool: this.#options.adjustPool } : {}),
      });
    } catch (err) {
      const error = new SnapshotRejectedError((err as Error).message);
      this.status.lastRejected = {
        version: typeof version === "string" ? version : undefined,
        source,
        reason: error.message,
        at: new Date().toISOString(),
      };
      this.#options.onRejected?.(error, source);
      return false;
    }
    const previous = this.#current;
    this.#current = next;
    Object.assign(this.status, {
      version: next.version,
      source,
      loadedAt: new Date().toISOString(),
    });
    this.#options.onLoaded?.(candidate as Snapshot, source);
    if (previous) void retire(previous, next);
    return true;
  }

  /** Closes every pool (at shutdown, after the drain). */
  async close() {
    const current = this.#current;
    this.#current = undefined;
    if (current) await retire(current, undefined);
  }
}
