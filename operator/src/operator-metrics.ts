// The operator's Prometheus metrics, on its admin listener's /metrics: how long compiles
// take, what the objects' conditions say, what was published and written, who leads, and
// how often watches had to restart or relist; and the process's own (process_*, nodejs_*).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { addProcessMetrics } from "../../core/admin/process-metrics.ts";
import type { ObjectStatus } from "../../core/compile/status-book.ts";
import type { WriteCounts } from "./status/status-writer.ts";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly #compile = new Histogram({
    name: "sluice_operator_compile_duration_seconds",
    help: "Time of one whole-world compile.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly #objects = new Gauge({
    name: "sluice_operator_objects",
    help: "Objects by kind and by the status of each condition: compile's (last compile) and Programmed (from the gateways' reports).",
    labelNames: ["kind", "condition", "status"] as const,
    registers: [this.registry],
  });
  readonly #publishes = new Counter({
    name: "sluice_operator_snapshot_publishes_total",
    help: "Snapshots written to the snapshot Secret.",
    registers: [this.registry],
  });
  readonly #statusWrites = new Counter({
    name: "sluice_operator_status_writes_total",
    help: "Status writes by result (written, skipped, conflict, missing, failed; deferred: left to a newer compile's write).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly #leader = new Gauge({
    name: "sluice_operator_leader",
    help: "1 while this replica holds the leader Lease.",
    registers: [this.registry],
  });
  readonly #watchRestarts = new Counter({
    name: "sluice_operator_watch_restarts_total",
    help: "Failed lists or watches, restarted with backoff, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly #lists = new Counter({
    name: "sluice_operator_lists_total",
    help: "Successful (re)lists by kind: the first one, then one after each 410 Gone or failure.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly #snapshotsRefused = new Counter({
    name: "sluice_operator_snapshot_refusals_total",
    help: "Compiled snapshots that failed validation and were not published (each retry counts).",
    registers: [this.registry],
  });
  readonly #publishFailures = new Counter({
    name: "sluice_operator_publish_failures_total",
    help: "Snapshots the leader could not publish, by reason (invalid: failed validation; api: the API server refused or did not answer). Each retry counts.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly #publishFailing = new Gauge({
    name: "sluice_operator_publish_failing",
    help: "1 while this leader's latest compiled snapshot is not published (its changes reach no gateway), else 0.",
    registers: [this.registry],
  });
  readonly #reconcileFailures = new Counter({
    name: "sluice_operator_reconcile_failures_total",
    help: "Reconciles that failed (publish or status write errors) and were retried.",
    registers: [this.registry],
  });

  // kind\0condition\0status → objects: compile's conditions, and Programmed, which comes
  // from the gateways' reports after compile (status/programmed.ts).
  #compiledCounts = new Map<string, number>();
  #programmedCounts = new Map<string, number>();

  constructor() {
    addProcessMetrics(this.registry);
  }

  compiled(seconds: number, statuses: readonly ObjectStatus[]) {
    this.#compile.observe(seconds);
    this.#compiledCounts = countObjects(
      statuses.flatMap((s) => s.conditions.map((c) => ({ kind: s.kind, type: c.type, status: c.status }))),
    );
    this.#setObjects();
  }

  /** Each object's Programmed condition, from what the live gateway replicas serve. */
  programmed(conditions: readonly { kind: string; status: string }[]) {
    this.#programmedCounts = countObjects(conditions.map((c) => ({ ...c, type: "Programmed" })));
    this.#setObjects();
  }

  #setObjects() {
    this.#objects.reset();
    for (const counts of [this.#compiledCounts, this.#programmedCounts])
      for (const [key, n] of counts) {
        const [kind = "", condition = "", status = ""] = key.split("\u0000");
        this.#objects.labels(kind, condition, status).set(n);
      }
  }

  published() {
    this.#publishes.inc();
  }

  statusWritten(c: WriteCounts) {
    this.#statusWrites.labels("written").inc(c.written);
    this.#statusWrites.labels("skipped").inc(c.skipped);
    this.#statusWrites.labels("conflict").inc(c.conflicts);
    this.#statusWrites.labels("missing").inc(c.missing);
    this.#statusWrites.labels("failed").inc(c.failed);
    this.#statusWrites.labels("deferred").inc(c.deferred);
  }

  leading(yes: boolean) {
    this.#leader.set(yes ? 1 : 0);
  }

  watchRestarted(kind: string) {
    this.#watchRestarts.labels(kind).inc();
  }

  listed(kind: string) {
    this.#lists.labels(kind).inc();
  }

  snapshotRefused() {
    this.#snapshotsRefused.inc();
  }

  /** The latest snapshot was published (failed: undefined) or could not be, and why. */
  publishOutcome(failed: "invalid" | "api" | undefined) {
    if (failed) this.#publishFailures.labels(failed).inc();
    this.#publishFailing.set(failed ? 1 : 0);
  }

  reconcileFailed() {
    this.#reconcileFailures.inc();
  }
}

function countObjects(conditions: readonly { kind: string; type: string; status: string }[]) {
  const counts = new Map<string, number>();
  for (const c of conditions) {
    const key = `${c.kind}\u0000${c.type}\u0000${c.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
