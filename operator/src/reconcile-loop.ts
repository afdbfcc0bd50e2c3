// The reconcile loop: level-triggered, it compiles the whole world as it is now, whatever
// event came, and (when leading) publishes the snapshot and writes status.
//   - Bursts coalesce: every change restarts one debounce timer (a `kubectl apply` of many
//     objects is compiled once, not as each intermediate world), but a stream of changes
//     (EndpointSlice churn) cannot postpone a compile past MAX_WAIT_DEBOUNCES debounces
//     after the first of them; a change that arrives while a reconcile runs makes exactly
//     one more after it.
//   - Publish first, then status: a status write that a newer compile supersedes stops
//     early (the newer one writes), so status writes never hold a change back from the
//     gateways.
//   - A failed reconcile is retried with backoff (400 ms doubling to 30 s).
//   - The compile is reused while nothing the compiler reads has changed: gateway reports
//     (every replica renews every 10 s) and timers only re-evaluate status, they do not
//     recompile a world of thousands of objects.
//   - A snapshot that fails validation is never published (as Envoy Gateway skips an IR that
//     fails its Validate()): logged, counted, retried with backoff, and the Secret keeps the
//     last good one the gateways serve.
//   - A publish that fails (that, or the API server refusing the Secret) is never silent:
//     every object the gateways do not serve at its current generation gets
//     Programmed=False PublishFailed with the reason, sluice_operator_publish_failing is 1
//     (an alert watches it) and the leader's /readyz says why.
// Its collaborators are narrow interfaces, so unit tests drive it with fake timers, a fake
// store and a fake API client behind the real publisher and status writer.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Snapshot } from "../../core/api/snapshot/schema.ts";
import { snapshotProblems } from "../../core/api/snapshot/validate.ts";
import { type CompileResult, compileSnapshot } from "../../core/compile/compile.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";
import type { SnapshotPublisher } from "./publish/snapshot-publisher.ts";
import { markExpiredApiKeys } from "./status/api-key-expiry.ts";
import { type ApiKeyUsageStatus, applyApiKeyUsage, sumApiKeyUsage } from "./status/api-key-usage.ts";
import { ProgrammedTracker, type ReportLease } from "./status/programmed.ts";
import { type StatusWriter, withExtraConditions } from "./status/status-writer.ts";

/** What the loop reads of the cluster (ResourceStore). */
export interface World {
  /** Every kind has been listed once. */
  readonly synced: boolean;
  objects(): KubernetesObject[];
  get(kind: string, namespace: string, name: string): KubernetesObject | undefined;
  /** What the last compile read (CompileResult.references): other changes start no compile. */
  track?(references: readonly string[]): void;
  /** Fetches the data of read Secrets that exist but are not held; true when any was. */
  fetchReferenced?(references: readonly string[]): Promise<boolean>;
}

/** The gateway replicas' report Leases (an informer). */
export interface Reports {
  readonly synced: boolean;
  list(): ReadonlyArray<KubernetesObject>;
}

export interface ReconcileLoopOptions {
  world: World;
  reports: Reports;
  publisher: Pick<SnapshotPublisher, "read" | "publish">;
  writer: Pick<StatusWriter, "write">;
  metrics: OperatorMetrics;
  log: Logger;
  apiKeyHashKey: string;
  debounceMs: number;
  /** How often ApiKey usage from the gateways' reports is folded into status (default 60 s). */
  usageIntervalMs?: number;
  /** compileSnapshot; replaceable so tests can count compiles or hand over a broken snapshot. */
  compile?: typeof compileSnapshot;
}

/** How long a stream of changes can hold a compile back, in debounces (default 100 ms: 1 s). */
const MAX_WAIT_DEBOUNCES = 10;

/** Fetch-and-compile rounds in one reconcile before it publishes what it has (see #compileWorld). */
const FETCH_ROUNDS = 3;

/** Thrown inside a reconcile for a snapshot that fails validation: it is retried like any failure. */
class InvalidSnapshot extends Error {}

export class ReconcileLoop {
  readonly #o: ReconcileLoopOptions;
  readonly #compile: typeof compileSnapshot;
  readonly #tracker = new ProgrammedTracker();
  #replicas: ReturnType<typeof ProgrammedTracker.replicas>["live"] = [];
  #leading = false;
  #version: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the first change the pending reconcile waits for came (performance.now() ms). */
  #firstChangeAt: number | undefined;
  /** Something the compiler reads changed since the last compile began. */
  #worldDirty = true;
  /** Where the next status write starts (after one a newer compile stopped). */
  #writeFrom = 0;
  /** Why the latest compiled snapshot is not published, while it is not. */
  #unpublished: string | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #keyExpiryTimer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #failures = 0;
  #stopped = false;
  // The last compile, reused while nothing the compiler reads has changed.
  #compiled: CompileResult | undefined;
  // What validation found wrong with #compiled's snapshot (checked once per compile).
  #problems: string[] = [];
  // The snapshot compiled (or published) last: where an object that became invalid finds
  // its last good version. Read back from the published Secret at start and on becoming
  // leader, so a restart or a leader change keeps what the gateways serve.
  #previous: Snapshot | undefined;
  #recovered = false;
  #usage = new Map<string, ApiKeyUsageStatus>();
  #usageAt = 0;

  constructor(o: ReconcileLoopOptions) {
    this.#o = o;
    this.#compile = o.compile ?? compileSnapshot;
  }

  /** The last snapshot version compiled (published when leading). */
  get version(): string | undefined {
    return this.#version;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** While leading: why the latest snapshot could not be published, or undefined. */
  get publishFailure(): string | undefined {
    return this.#leading ? this.#unpublished : undefined;
  }

  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#keyExpiryTimer);
  }

  /** Something the compiler reads changed (the store's informers): recompile. */
  readonly worldChanged = (): void => {
    this.#compiled = undefined;
    this.#worldDirty = true;
    this.#schedule();
  };

  /** Only what status depends on changed (a gateway report): re-evaluate, no recompile. */
  readonly statusChanged = (): void => {
    this.#schedule();
  };

  /** This replica took the Lease: read back what the gateways serve, then publish and write. */
  startedLeading(): void {
    this.#leading = true;
    this.#recovered = false;
    this.#schedule(0);
  }

  stoppedLeading(): void {
    this.#leading = false;
    this.#unpublished = undefined;
    this.#o.metrics.publishOutcome(undefined);
  }

  /**
   * Runs a reconcile `delay` ms from now (a debounce: a later change moves it later), but no
   * later than MAX_WAIT_DEBOUNCES debounces after the first change still waiting.
   */
  #schedule(delay = this.#o.debounceMs): void {
    if (this.#stopped) return;
    const now = performance.now();
    this.#firstChangeAt ??= now;
    const latest = this.#firstChangeAt + MAX_WAIT_DEBOUNCES * this.#o.debounceMs;
    // A retry's backoff (longer than the debounce) is kept as asked.
    const due = delay > this.#o.debounceMs ? now + delay : Math.min(now + delay, Math.max(now, latest));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#firstChangeAt = undefined;
      void this.#reconcile();
    }, due - now);
  }

  async #reconcile(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    const { world, reports, metrics, log } = this.#o;
    // Never compile a partial world: a kind not listed yet would read as "all deleted" and
    // the leader would publish it. The first successful list of each schedules us again.
    if (!world.synced || !reports.synced) return;
    this.#running = true;
    try {
      if (!this.#recovered) {
        this.#previous = (await this.#o.publisher.read()) ?? this.#previous;
        this.#recovered = true;
        this.#compiled = undefined;
      }
      const compiled = this.#compiled ?? (await this.#compileWorld());
      const now = Date.now();
      const statuses = this.#withUsage(compiled, now);
      this.#watchReplicas(compiled, now);
      if (this.#leading) {
        // A failed publish still writes status (that is where users look), then is retried.
        let publishError: unknown;
        try {
          await this.#publish(compiled.snapshot);
        } catch (err) {
          publishError = err;
        }
        const programmed = statuses.map((s) =>
          withExtraConditions(s, [
            this.#tracker.condition(s, this.#replicas, this.#version, this.#unpublished),
          ]),
        );
        // A write stopped by a newer compile resumes, next time, with the objects it did not
        // reach: under steady churn every object still gets its turn.
        const from = this.#writeFrom % Math.max(1, programmed.length);
        const order = from === 0 ? programmed : [...programmed.slice(from), ...programmed.slice(0, from)];
        const counts = await this.#o.writer.write(
          order,
          (kind, namespace, name) => world.get(kind, namespace, name),
          () => this.#worldDirty,
        );
        this.#writeFrom = counts.deferred > 0 ? from + programmed.length - counts.deferred : 0;
        metrics.statusWritten(counts);
        if (counts.written > 0 || counts.conflicts > 0) log.info(counts, "status written");
        if (publishError !== undefined) throw publishError;
      }
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      metrics.reconcileFailed();
      // Failed before publishing (a referenced Secret could not be read): the latest changes
      // reach no gateway either, and that is said the same way as a failed publish.
      if (this.#leading && this.#unpublished === undefined) {
        this.#unpublished = `the reconcile failed before publishing: ${err instanceof Error ? err.message : String(err)}`;
        metrics.publishOutcome("api");
      }
      const delay = Math.min(30_000, 200 * 2 ** this.#failures);
      if (err instanceof InvalidSnapshot)
        log.error({ problems: this.#problems, retryInMs: delay }, "snapshot fails validation; not published");
      else log.error({ err: String(err), retryInMs: delay }, "reconcile failed; retrying");
      this.#schedule(delay);
    } finally {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.#schedule();
      }
    }
  }

  async #compileWorld(): Promise<CompileResult> {
    const { world, metrics, log } = this.#o;
    const started = performance.now();
    this.#worldDirty = false;
    const options = {
      apiKeyHashKey: this.#o.apiKeyHashKey,
      ...(this.#previous ? { previous: this.#previous } : {}),
    };
    let objects = world.objects();
    let compiled = this.#compile(objects, options);
    // Compile asked for Secrets whose data is not held, or changed since it was fetched (a
    // new reference, a rotation, the first compile): fetch them and compile again, until it
    // asks for nothing new. Only the last result counts — one without their data is no
    // one's last good version and is never published.
    let settled = world.fetchReferenced === undefined;
    for (let round = 0; !settled && round < FETCH_ROUNDS; round++) {
      const fetched = await world.fetchReferenced?.(compiled.references);
      // A change while fetching (worldChanged cleared nothing cached yet) is compiled too.
      if (!fetched && !this.#worldDirty) settled = true;
      else {
        this.#worldDirty = false;
        objects = world.objects();
        compiled = this.#compile(objects, options);
      }
    }
    // Still asking after that many rounds (Secrets changing while fetched): publish this one,
    // which refuses what lacks its data, and compile again at once.
    if (!settled) {
      this.#worldDirty = true;
      this.#schedule(0);
    }
    this.#compiled = settled ? compiled : undefined;
    world.track?.(compiled.references);
    this.#problems = snapshotProblems(compiled.snapshot);
    // Only a valid snapshot is anyone's last good version: one that fails validation is
    // never published, so the next compile still keeps objects at what is served.
    if (this.#problems.length === 0) this.#previous = compiled.snapshot;
    const compileMs = performance.now() - started;
    const nextKeyExpiry = markExpiredApiKeys(compiled.statuses, objects, Date.now());
    clearTimeout(this.#keyExpiryTimer);
    if (nextKeyExpiry !== undefined && !this.#stopped) {
      // setTimeout's limit is about 24.8 days; a later expiry is looked at again then.
      this.#keyExpiryTimer = setTimeout(
        this.worldChanged,
        Math.min(nextKeyExpiry - Date.now() + 50, 2 ** 31 - 1),
      );
      this.#keyExpiryTimer.unref();
    }
    metrics.compiled(compileMs / 1000, compiled.statuses);
    if (compiled.snapshot.version !== this.#version)
      log.info({ version: compiled.snapshot.version, compileMs }, "compiled");
    this.#version = compiled.snapshot.version;
    this.#tracker.record(compiled.snapshot.version, compiled.statuses);
    return compiled;
  }

  /** Compile's statuses with ApiKey usage, sampled at most once per interval. */
  #withUsage(compiled: CompileResult, now: number) {
    const { world, reports } = this.#o;
    // Between samples, status is unchanged.
    if (now - this.#usageAt >= (this.#o.usageIntervalMs ?? 60_000)) {
      this.#usageAt = now;
      this.#usage = sumApiKeyUsage(ProgrammedTracker.live(reports.list() as ReportLease[], now));
    }
    const statuses = compiled.statuses.map((s) => ({ ...s }));
    applyApiKeyUsage(statuses, this.#usage, (namespace, name) => {
      const current = world.get("ApiKey", namespace, name) as
        | { status?: { usage?: ApiKeyUsageStatus } }
        | undefined;
      return current?.status?.usage;
    });
    return statuses;
  }

  /** Which gateway replicas are alive and what they serve; re-check when one expires. */
  #watchReplicas(compiled: CompileResult, now: number) {
    const seen = ProgrammedTracker.replicas(this.#o.reports.list() as ReportLease[], now);
    this.#replicas = seen.live;
    this.#o.metrics.programmed(
      compiled.statuses.map((s) => ({
        kind: s.kind,
        status: this.#tracker.condition(s, this.#replicas, this.#version, this.#unpublished).status,
      })),
    );
    clearTimeout(this.#expiryTimer);
    if (seen.nextExpiry !== undefined && !this.#stopped) {
      this.#expiryTimer = setTimeout(() => this.#schedule(), seen.nextExpiry - now + 50);
      this.#expiryTimer.unref();
    }
  }

  async #publish(snapshot: Snapshot) {
    const { metrics, log } = this.#o;
    // A replica that stopped leading meanwhile says nothing about publishing (its gauge is 0).
    const outcome = (failed: "invalid" | "api" | undefined) => {
      if (this.#leading) metrics.publishOutcome(failed);
    };
    if (this.#problems.length > 0) {
      metrics.snapshotRefused();
      outcome("invalid");
      this.#compiled = undefined; // the retry compiles again
      this.#unpublished = `it fails validation (${this.#problems.slice(0, 3).join("; ")})`;
      throw new InvalidSnapshot(this.#problems.join("; "));
    }
    try {
      if (await this.#o.publisher.publish(snapshot)) {
        metrics.published();
        log.info({ version: snapshot.version }, "snapshot published");
      }
    } catch (err) {
      outcome("api");
      this.#unpublished = err instanceof Error ? err.message : String(err);
      throw err;
    }
    this.#unpublished = undefined;
    outcome(undefined);
  }
}
