// The operator, wired in order:
//   informers (ResourceStore: the five kinds, Secrets, Services, EndpointSlices)
//   → every change schedules one debounced whole-world compileSnapshot
//   → leader only: publish the snapshot Secret (when its version changed)
//   → leader only: the status writer (skips writes that change nothing), with Programmed
//     from the gateway replicas' reports (status/programmed.ts)
// Standbys run the same informers, so their caches are warm when they take over.
import { hostname } from "node:os";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { REPORT_LABEL } from "../../core/api/replica-report.ts";
import type { Snapshot } from "../../core/api/snapshot/schema.ts";
import { compileSnapshot } from "../../core/compile/compile.ts";
import type { ApiClient } from "../../core/kubernetes/api-client.ts";
import { createInformer } from "../../core/kubernetes/informer.ts";
import { LeaderElector } from "../../core/kubernetes/leader-election.ts";
import { ResourceStore } from "../../core/kubernetes/resource-store.ts";
import { OperatorMetrics } from "./operator-metrics.ts";
import { SnapshotPublisher } from "./publish/snapshot-publisher.ts";
import { markExpiredApiKeys } from "./status/api-key-expiry.ts";
import { type ApiKeyUsageStatus, applyApiKeyUsage, sumApiKeyUsage } from "./status/api-key-usage.ts";
import { ProgrammedTracker, type ReportLease } from "./status/programmed.ts";
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
  log: Logger;
}

export interface OperatorHandle {
  readonly identity: string;
  readonly isLeader: boolean;
  /** Every informer has listed once: what the operator compiles is the cluster, not a part. */
  readonly synced: boolean;
  /** The last snapshot version compiled (published when leading). */
  readonly version: string | undefined;
  readonly metrics: OperatorMetrics;
  stop(): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<OperatorHandle> {
  const { client, log } = o;
  const identity = o.identity ?? `${hostname()}-${process.pid}`;
  const metrics = new OperatorMetrics();
  const publisher = new SnapshotPublisher(client, o.namespace, o.snapshotSecret);
  const tracker = new ProgrammedTracker();
  let replicas: ReturnType<typeof ProgrammedTracker.replicas>["live"] = [];
  const writer = new StatusWriter({
    client,
    log: (msg, fields) => log.info(fields ?? {}, msg),
    extraConditions: (status) => [tracker.condition(status, replicas, version)],
  });
  let expiryTimer: NodeJS.Timeout | undefined;
  let leading = false;
  let version: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let failures = 0;
  // The last compile, reused while nothing the compiler reads has changed: gateway reports
  // (every replica renews every 10 s) and timers only re-evaluate status, they do not
  // recompile a world of thousands of objects.
  let compiled: ReturnType<typeof compileSnapshot> | undefined;
  // The snapshot compiled (or published) last: where an object that became invalid finds
  // its last good version. Read back from the published Secret at start and on becoming
  // leader, so a restart or a leader change keeps what the gateways serve.
  let previous: Snapshot | undefined;
  let recovered = false;
  let keyExpiryTimer: NodeJS.Timeout | undefined;
  let usage = new Map<string, ApiKeyUsageStatus>();
  let usageAt = 0;

  const worldChanged = () => {
    compiled = undefined;
    schedule();
  };
  const schedule = (delay = o.debounceMs) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void reconcile(), delay);
  };

  // Level-triggered: whatever event came, compile the whole world as it is now.
  const reconcile = async () => {
    if (running) {
      again = true;
      return;
    }
    // Never compile a partial world: a kind not listed yet would read as "all deleted" and
    // the leader would publish it. The first successful list of each schedules us again.
    if (!store.synced || !reports.synced) return;
    running = true;
    try {
      if (!recovered) {
        previous = (await publisher.read()) ?? previous;
        recovered = true;
        compiled = undefined;
      }
      if (!compiled) {
        const started = performance.now();
        const objects = store.objects();
        compiled = compileSnapshot(objects, {
          apiKeyHashKey: o.apiKeyHashKey,
          ...(previous ? { previous } : {}),
        });
        previous = compiled.snapshot;
        const compileMs = performance.now() - started;
        const nextKeyExpiry = markExpiredApiKeys(compiled.statuses, objects, Date.now());
        clearTimeout(keyExpiryTimer);
        if (nextKeyExpiry !== undefined) {
          // setTimeout's limit is about 24.8 days; a later expiry is looked at again then.
          keyExpiryTimer = setTimeout(worldChanged, Math.min(nextKeyExpiry - Date.now() + 50, 2 ** 31 - 1));
          keyExpiryTimer.unref();
        }
        metrics.compiled(compileMs / 1000, compiled.statuses);
        if (compiled.snapshot.version !== version)
          log.info({ version: compiled.snapshot.version, compileMs }, "compiled");
        version = compiled.snapshot.version;
        tracker.record(compiled.snapshot.version, compiled.statuses);
      }
      const { snapshot } = compiled;
      // Usage is sampled at most once per interval: between samples, status is unchanged.
      const now = Date.now();
      if (now - usageAt >= (o.usageIntervalMs ?? 60_000)) {
        usageAt = now;
        usage = sumApiKeyUsage(ProgrammedTracker.live(reports.list() as ReportLease[], now));
      }
      const statuses = compiled.statuses.map((s) => ({ ...s }));
      applyApiKeyUsage(statuses, usage, (namespace, name) => {
        const current = store.get("ApiKey", namespace, name) as
          | { status?: { usage?: ApiKeyUsageStatus } }
          | undefined;
        return current?.status?.usage;
      });
      // Which gateway replicas are alive and what they serve; re-check when one expires.
      const seen = ProgrammedTracker.replicas(reports.list() as ReportLease[], now);
      replicas = seen.live;
      metrics.programmed(
        compiled.statuses.map((s) => ({
          kind: s.kind,
          status: tracker.condition(s, replicas, version).status,
        })),
      );
      if (expiryTimer) clearTimeout(expiryTimer);
      if (seen.nextExpiry !== undefined) {
        expiryTimer = setTimeout(() => schedule(), seen.nextExpiry - now + 50);
        expiryTimer.unref();
      }
      if (leading) {
        if (await publisher.publish(snapshot)) {
          metrics.published();
          log.info({ version: snapshot.version }, "snapshot published");
        }
        const counts = await writer.write(statuses, (kind, namespace, name) =>
          store.get(kind, namespace, name),
        );
        metrics.statusWritten(counts);
        if (counts.written > 0 || counts.conflicts > 0) log.info(counts, "status written");
      }
      failures = 0;
    } catch (err) {
      failures++;
      metrics.reconcileFailed();
      const delay = Math.min(30_000, 200 * 2 ** failures);
      log.error({ err: String(err), retryInMs: delay }, "reconcile failed; retrying");
      schedule(delay);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };

  const store = new ResourceStore(
    client,
    worldChanged,
    (kind, err) => {
      metrics.watchRestarted(kind);
      log.warn({ kind, err: String(err) }, "watch failed; restarting with backoff");
    },
    (kind) => metrics.listed(kind),
  );
  const elector = new LeaderElector({
    client,
    namespace: o.namespace,
    name: o.leaseName,
    identity,
    leaseDurationMs: o.leaseDurationMs,
    renewDeadlineMs: o.renewDeadlineMs,
    retryPeriodMs: o.retryPeriodMs,
    onStartedLeading: () => {
      leading = true;
      recovered = false;
      metrics.leading(true);
      log.info({ identity }, "leading");
      schedule(0);
    },
    onStoppedLeading: () => {
      leading = false;
      metrics.leading(false);
      log.warn({ identity }, "no longer leading");
    },
    log: (msg, fields) => log.debug(fields ?? {}, msg),
  });
  // Gateway replicas report what they serve in Leases labelled sluice.dev/gateway-report.
  const reports = createInformer<KubernetesObject>(
    client,
    `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`,
    { labelSelector: `${REPORT_LABEL}=true` },
    {
      add: () => schedule(),
      update: () => schedule(),
      delete: () => schedule(),
      synced: () => {
        metrics.listed("GatewayReport");
        schedule();
      },
      error: (err) => {
        metrics.watchRestarted("GatewayReport");
        log.warn({ err: String(err) }, "gateway report watch failed; restarting");
      },
    },
  );
  await reports.start();
  await store.start();
  elector.start();
  schedule(0);

  return {
    identity,
    metrics,
    get isLeader() {
      return leading;
    },
    get synced() {
      return store.synced && reports.synced;
    },
    get version() {
      return version;
    },
    async stop() {
      if (timer) clearTimeout(timer);
      if (expiryTimer) clearTimeout(expiryTimer);
      clearTimeout(keyExpiryTimer);
      await reports.stop();
      await elector.stop();
      await store.stop();
    },
  };
}
