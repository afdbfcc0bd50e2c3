// A gateway pod with --workers N above 1: this primary process and N workers (worker.ts),
// each running the whole data plane on the one listen port (the kernel spreads connections).
// The primary holds what there must be one of: the snapshot source, the admin listener, the
// in-memory rate-limit state, the metrics totals, the replica report. Started in order here,
// closed in order by shutdown. docs/adr/0005-workers.md says why it is built this way.
import type { Logger } from "pino";
import { splitAddress } from "../../../core/admin/address.ts";
import type { GatewayConfig } from "../config.ts";
import { startLimiter } from "../limiter-setup.ts";
import { GatewayMetrics } from "../observability/gateway-metrics.ts";
import { startSnapshotSource } from "../snapshot-source.ts";
import { ClusterMetrics } from "./cluster-metrics.ts";
import { answerLimits } from "./limiter-server.ts";
import type { Output } from "./output-relay.ts";
import { startPrimaryAdmin } from "./primary-admin.ts";
import { PrimarySnapshots } from "./primary-snapshots.ts";
import type { FromWorker } from "./protocol.ts";
import { Supervisor, type WorkerLink } from "./supervisor.ts";
import { WorkerMetrics } from "./worker-metrics.ts";
import { workerConfig } from "./worker-share.ts";

export interface PrimaryHandle {
  readonly dataPort: number;
  readonly adminPort: number;
  /** Drains every worker (--drain-ms), then closes the rest; resolves when all is closed. */
  shutdown(): Promise<void>;
  /** Rejects when workers kept exiting (the supervisor gave up and stopped them). */
  readonly failed: Promise<never>;
}

export async function startPrimary(
  config: GatewayConfig,
  workers: number,
  log: Logger,
  output: Output,
): Promise<PrimaryHandle> {
  const failed = Promise.withResolvers<never>();
  // The primary's own metrics: snapshot loads (it owns the source) and worker restarts; the
  // workers' request metrics are added to them at scrape time (cluster-metrics.ts).
  const metrics = config.metrics
    ? new GatewayMetrics(
        () => 0,
        () => [],
      )
    : undefined;
  // Rate limits: with Redis, workers share it directly and this one serves the admin
  // endpoints; without, this is the pod's one in-memory state and workers ask it.
  const { limiter } = await startLimiter({ ...config, authFailureLimit: 0 }, log, metrics);
  let draining = false;
  // The workers, each started with the primary's configuration, its share of per-process
  // limits, and the snapshot loaded last.
  const perWorker = workerConfig(config, workers);
  const supervisor: Supervisor = new Supervisor({
    count: workers,
    port: splitAddress(config.listen).port,
    log,
    output,
    startMessage: (index, port) => ({
      t: "start",
      config: { ...perWorker, listen: `${config.listen.slice(0, config.listen.lastIndexOf(":"))}:${port}` },
      index,
      workers,
      logLevel: log.level,
      ...(snapshots.latest ? { snapshot: snapshots.latest } : {}),
    }),
    onMessage: (from, m) => route(from, m),
    onExit: (state, restarting) => {
      snapshots.usage.retire(state.pid);
      void cluster?.retire(state);
      if (restarting) workerMetrics?.restarted();
      snapshots.settle();
    },
    onGiveUp: (err) => failed.reject(err),
  });
  const workerMetrics =
    metrics &&
    new WorkerMetrics(metrics.registry, () => supervisor.workers.filter((w) => w.listening).length, workers);
  const cluster = metrics && new ClusterMetrics(metrics.registry, supervisor);
  // Snapshots: checked here, built by every worker; served once all of them serve it.
  const snapshots = new PrimarySnapshots({
    apiKeyHashKey: config.apiKeyHashKey,
    log,
    metrics,
    handOver: ({ snapshot, source }) => supervisor.broadcast({ t: "snapshot", snapshot, source }),
    workers: () => supervisor.workers,
  });
  // What workers say: what they serve, their rate-limit checks, blocks, key usage.
  const route = (from: WorkerLink, m: FromWorker) => {
    if (m.t === "limits") answerLimits(limiter, m, from.send);
    else if (m.t === "loaded") snapshots.workerLoaded(from.state, m);
    else if (m.t === "listening") snapshots.settle();
    else if (m.t === "blocked") supervisor.broadcast(m, from.state);
    else if (m.t === "usage") snapshots.usage.update(from.state.pid, m.entries);
  };
  // The source (config directory, snapshot file or the operator's Secret): loads now, then watches.
  const source = await startSnapshotSource(config, snapshots, log);
  try {
    await supervisor.start();
  } catch (err) {
    await Promise.all([source.close(), limiter.close()]);
    throw err;
  }
  // The admin listener: probes, /status, /metrics, log level, rate-limit keys — for the pod.
  const admin = await startPrimaryAdmin({
    listen: config.adminListen,
    adminToken: config.adminToken,
    log,
    metrics: cluster,
    snapshots,
    source,
    supervisor,
    limiter,
    draining: () => draining,
  });
  const dataPort = supervisor.port;
  log.info({ listen: config.listen, port: dataPort, workers, admin: admin.address }, "gateway listening");

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      draining = true;
      const sourceClosed = source.close();
      // Workers answer rate-limit checks through the primary until they are gone.
      await supervisor.drain(config.drainMs);
      await Promise.all([admin.close(), sourceClosed, limiter.close()]);
      log.info("stopped");
    })();
    return stopping;
  };
  return { dataPort, adminPort: admin.address.port, shutdown, failed: failed.promise };
}
