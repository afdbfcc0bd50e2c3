// Where the primary's snapshot source loads into: the snapshot is checked here (schema,
// content hash, API-key hash key — what SnapshotLoader checks before building) and handed
// to every worker, which builds and swaps it as one process would. The primary builds no
// runtime of its own: it would run a second set of health checks for nothing.
// A snapshot is *served* once every listening worker says it serves it: only then do
// /status, the replica report (onServed) and the metrics say so, and /readyz is 200 only
// while every listening worker serves the snapshot loaded last. A worker that cannot build
// it (all run the same code on the same snapshot, so all would fail) rejects it for the pod:
// the served one is handed back and stays, as in one process.

import type { Logger } from "pino";
import type { Readiness } from "../../../core/admin/admin-server.ts";
import { SnapshotRejectedError } from "../../../core/api/errors.ts";
import { hashKeyId } from "../../../core/api/snapshot/api-key-hash.ts";
import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import { snapshotProblems } from "../../../core/api/snapshot/validate.ts";
import type { GatewayMetrics } from "../observability/gateway-metrics.ts";
import type { LoaderStatus } from "../snapshot/loader.ts";
import type { SnapshotSink } from "../sources/source.ts";
import type { FromWorker } from "./protocol.ts";
import type { WorkerState } from "./supervisor.ts";
import { UsageTotals } from "./usage-totals.ts";

export interface Handed {
  snapshot: Snapshot;
  source: string;
}

export interface PrimarySnapshotsOptions {
  apiKeyHashKey: string;
  log: Logger;
  metrics: GatewayMetrics | undefined;
  /** Sends a snapshot to every worker. */
  handOver: (h: Handed) => void;
  workers: () => readonly WorkerState[];
}

export class PrimarySnapshots implements SnapshotSink {
  readonly status: LoaderStatus = {
    version: undefined,
    source: undefined,
    loadedAt: undefined,
    lastRejected: undefined,
  };
  readonly usage = new UsageTotals();
  readonly #o: PrimarySnapshotsOptions;
  readonly #hashKeyId: string;
  readonly #listeners: (() => void)[] = [];
  /** Loaded last: what the workers are told to serve. */
  #latest: Handed | undefined;
  /** What every listening worker serves. */
  #served: Handed | undefined;

  constructor(o: PrimarySnapshotsOptions) {
    this.#o = o;
    this.#hashKeyId = hashKeyId(o.apiKeyHashKey);
  }

  get current() {
    return this.#latest && { snapshot: this.#latest.snapshot, auth: { usage: this.usage } };
  }

  /** What a starting worker loads before it listens. */
  get latest(): Handed | undefined {
    return this.#latest;
  }

  onServed(listener: () => void): void {
    this.#listeners.push(listener);
  }

  load(candidate: unknown, source: string): boolean {
    const version = (candidate as { version?: unknown })?.version;
    if (typeof version === "string" && version === this.#latest?.snapshot.version) return true;
    const problems = snapshotProblems(candidate);
    const keyId = problems.length === 0 ? (candidate as Snapshot).apiKeys.hashKeyId : this.#hashKeyId;
    if (keyId !== this.#hashKeyId)
      problems.push(
        `API keys in this snapshot are hashed with key ${keyId}, this gateway's SLUICE_API_KEY_HASH_KEY is ${this.#hashKeyId}: it could not check any API key`,
      );
    if (problems.length > 0) {
      this.#reject(
        typeof version === "string" ? version : undefined,
        source,
        problems.slice(0, 5).join("; "),
      );
      return false;
    }
    this.#latest = { snapshot: candidate as Snapshot, source };
    this.#o.handOver(this.#latest);
    this.settle();
    return true;
  }

  /** A worker said what it serves now (after a snapshot, or before it listens). */
  workerLoaded(worker: WorkerState, m: Extract<FromWorker, { t: "loaded" }>): void {
    worker.serving = m.serving;
    const latest = this.#latest;
    if (m.rejected && latest && latest !== this.#served && m.rejected.version === latest.snapshot.version) {
      this.#reject(m.rejected.version, latest.source, m.rejected.reason);
      this.#latest = this.#served;
      if (this.#served) this.#o.handOver(this.#served);
    }
    this.settle();
  }

  /** Marks the latest snapshot served once every listening worker serves it (call when workers change). */
  settle(): void {
    const latest = this.#latest;
    if (!latest || latest === this.#served) return;
    const listening = this.#o.workers().filter((w) => w.listening);
    const { version } = latest.snapshot;
    if (listening.length === 0 || listening.some((w) => w.serving !== version)) return;
    this.#served = latest;
    Object.assign(this.status, { version, source: latest.source, loadedAt: new Date().toISOString() });
    this.#o.metrics?.snapshotLoaded(version);
    this.#o.log.info(
      { version, source: latest.source, workers: listening.length },
      "snapshot served by every worker",
    );
    for (const listener of this.#listeners) listener();
  }

  /** 200 while every listening worker serves the snapshot loaded last. */
  readiness(draining: boolean): Readiness {
    const version = this.status.version ?? null;
    const listening = this.#o.workers().filter((w) => w.listening);
    const latest = this.#latest?.snapshot.version;
    const behind = listening.filter((w) => w.serving !== latest).length;
    const reason = draining
      ? "draining"
      : latest === undefined
        ? "no snapshot loaded"
        : listening.length === 0
          ? "no worker listening"
          : behind > 0
            ? `${behind} of ${listening.length} workers not serving ${latest} yet`
            : undefined;
    if (reason) return { ready: false, reason, draining, version, workers: listening.length };
    return { ready: true, draining, version, workers: listening.length };
  }

  #reject(version: string | undefined, source: string, reason: string): void {
    const error = new SnapshotRejectedError(reason);
    this.status.lastRejected = { version, source, reason: error.message, at: new Date().toISOString() };
    this.#o.metrics?.snapshotRejected();
    this.#o.log.error(
      { source, code: error.code, reason: error.message },
      "snapshot rejected; the previous one keeps serving",
    );
  }
}
