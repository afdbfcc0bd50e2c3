// The operator, wired in order; each component is in its own file with start and stop.
// Standbys run the same informers and loop, so their caches are warm when they take over.
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Budgets } from "../../core/compile/budgets.ts";
import { compileSnapshot } from "../../core/compile/compile.ts";
import type { ApiClient } from "../../core/kubernetes/api-client.ts";
import { watchCluster } from "./cluster-store.ts";
import { watchGatewayReports } from "./gateway-reports.ts";
import { electLeader } from "./leadership.ts";
import { OperatorMetrics } from "./operator-metrics.ts";
import { SnapshotPublisher } from "./publish/snapshot-publisher.ts";
import { ReconcileLoop } from "./reconcile-loop.ts";
import { StatusWriter } from "./status/status-writer.ts";

export interface OperatorOptions {
  client: ApiClient;
  /** Namespace of the snapshot Secret and the leader Lease. */
  namespace: string;
  snapshotSecret: string;
  leaseName: string;
  identity?: string;
  apiKeyHashKey: string;
  debounceMs: number;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** How often ApiKey usage from the gateways' reports is folded into status (default 60 s). */
  usageIntervalMs?: number;
  /** Refuse route host names that no HostnameOwnership listener covers (docs/multi-tenancy.md). */
  requireHostnameOwnership?: boolean;
  /** Size budgets per object and per namespace (core/compile/budgets.ts); unset ones keep their defaults. */
  budgets?: Partial<Budgets>;
  log: Logger;
}

export interface OperatorHandle {
  readonly identity: string;
  readonly isLeader: boolean;
  /** Every informer has listed once: what the operator compiles is the cluster, not a part. */
  readonly synced: boolean;
  /** The last snapshot version compiled (published when leading). */
  readonly version: string | undefined;
  /** While leading: why the latest snapshot could not be published, or undefined. */
  readonly publishFailure: string | undefined;
  readonly metrics: OperatorMetrics;
  stop(): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<OperatorHandle> {
  const { client, log } = o;
  const identity = o.identity ?? `${hostname()}-${process.pid}`;
  const metrics = new OperatorMetrics();

  // Informers: what compile reads (a change recompiles), and the gateway replicas' reports
  // of what they serve (a change only re-evaluates status).
  const store = watchCluster(client, () => loop.worldChanged(), metrics, log);
  const reports = watchGatewayReports(client, o.namespace, () => loop.statusChanged(), metrics, log);
  // The reconcile loop: debounced whole-world compileSnapshot, validated, then (leader
  // only) the publisher writes the snapshot Secret when its version changed and the status
  // writer writes conditions, Programmed among them, skipping writes that change nothing.
  const loop = new ReconcileLoop({
    world: store,
    reports,
    publisher: new SnapshotPublisher(client, o.namespace, o.snapshotSecret, {
      onError: (err) => log.warn({ err: String(err) }, "snapshot chunk clean-up failed; retried later"),
    }),
    writer: new StatusWriter({ client, log: (msg, fields) => log.info(fields ?? {}, msg) }),
    metrics,
    log,
    apiKeyHashKey: o.apiKeyHashKey,
    debounceMs: o.debounceMs,
    ...(o.usageIntervalMs !== undefined ? { usageIntervalMs: o.usageIntervalMs } : {}),
    // The loop's compile with this installation's options: hostname ownership, budgets.
    compile: (objects, options) =>
      compileSnapshot(objects, {
        ...options,
        ...(o.requireHostnameOwnership ? { requireHostnameOwnership: true } : {}),
        ...(o.budgets ? { budgets: o.budgets } : {}),
      }),
  });
  // Leader election: the loop publishes and writes status only while this replica leads.
  const elector = electLeader({
    ...o,
    identity,
    metrics,
    onStartedLeading: () => loop.startedLeading(),
    onStoppedLeading: () => loop.stoppedLeading(),
  });

  await reports.start();
  await store.start();
  elector.start();
  loop.start();

  return {
    identity,
    metrics,
    get isLeader() {
      return loop.leading;
    },
    get synced() {
      return store.synced && reports.synced;
    },
    get version() {
      return loop.version;
    },
    get publishFailure() {
      return loop.publishFailure;
    },
    async stop() {
      loop.stop();
      await reports.stop();
      await elector.stop();
      await store.stop();
    },
  };
}
