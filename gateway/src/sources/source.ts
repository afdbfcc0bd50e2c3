// What the gateway's three snapshot sources (a standalone directory, a snapshot file, the
// operator's Secret) have in common: each loads into the SnapshotLoader on start and on
// every change, and a source that cannot be read keeps the last good snapshot serving.
import type { Logger } from "pino";
import { GatewayError, SourceUnreadableError } from "../../../core/api/errors.ts";
import type { notAccepted } from "../../../core/sources/directory-source.ts";
import type { ApiKeyUsageEntry } from "../auth/api-key-usage.ts";
import type { LoaderStatus } from "../snapshot/loader.ts";

/**
 * Where a source loads into: the SnapshotLoader of a gateway process, or, with --workers,
 * the primary's hand-over to its workers (workers/primary-snapshots.ts).
 */
export interface SnapshotSink {
  /** Loads a candidate; false when it is rejected (the current one stays). */
  load(candidate: unknown, source: string): boolean;
  readonly status: LoaderStatus;
  /** What is loaded: its API-key usage, for the replica report. */
  readonly current: { readonly auth: { readonly usage: { read(): ApiKeyUsageEntry[] } } } | undefined;
  /** Calls `listener` when what is served changes later than load() returns (the workers' primary). */
  onServed?(listener: () => void): void;
}

export interface SnapshotSource {
  /** Reads the source again now (its watch does this on its own; a Secret has nothing to re-read). */
  reload(): void;
  /** Standalone only: the directory's objects that are not accepted, and why, for /status. */
  objects?: () => ReturnType<typeof notAccepted>;
  /** Stops watching (and, for the Secret, withdraws this replica's report). */
  close(): Promise<void> | void;
}

/**
 * Reads a snapshot and loads it; true when it loaded. When reading fails, the failure is
 * recorded as the last rejection (for /status and the replica report) and logged; the
 * current snapshot stays.
 */
export function readAndLoad(loader: SnapshotSink, log: Logger, source: string, read: () => unknown): boolean {
  try {
    return loader.load(read(), source);
  } catch (err) {
    const error = err instanceof GatewayError ? err : new SourceUnreadableError((err as Error).message);
    loader.status.lastRejected = {
      version: undefined,
      source,
      reason: error.message,
      at: new Date().toISOString(),
    };
    log.error(
      { code: error.code, reason: error.message },
      "configuration not loaded; the previous one keeps serving",
    );
    return false;
  }
}
