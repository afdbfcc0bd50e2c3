// One worker of a pod with --workers: the data plane of one gateway process (the same
// limiter, loader, telemetry and listener as server.ts), with what there is one of in the
// pod left to the primary: snapshots arrive from it, the in-memory rate-limit state is its
// (ipc-limiter.ts), its admin listener answers for everyone and asks this worker for
// metrics and status. The listener shares the port with the other workers (listener.ts).
import type { Logger } from "pino";
import { startDataPlane } from "../data-plane-setup.ts";
import { startLimiter } from "../limiter-setup.ts";
import { createSnapshotLoader } from "../loader-setup.ts";
import { GatewayMetrics } from "../observability/gateway-metrics.ts";
import { startObservability } from "../observability-setup.ts";
import { gracefulShutdown } from "../shutdown.ts";
import { IpcLimiter } from "./ipc-limiter.ts";
import type { FromWorker, StartMessage, ToWorker, WorkerStatus } from "./protocol.ts";
import { workerPool } from "./worker-share.ts";

/** How often the API-key usage goes to the primary (its replica report renews every 10 s). */
const USAGE_MS = 5_000;

/** Starts the worker; returns what handles the primary's later messages. */
export async function startWorker(
  start: StartMessage,
  send: (m: FromWorker) => void,
  log: Logger,
): Promise<(m: ToWorker) => void> {
  const { config, workers } = start;
  const metrics = config.metrics
    ? new GatewayMetrics(
        () => listener.connections,
        () => loader.current?.pools.values() ?? [],
      )
    : undefined;
  // Rate limits: Redis as in one process (shared already); else the primary's one state.
  const shared = new IpcLimiter(send, (err) => log.warn({ err: err.message }, "rate-limit store error"));
  const limits = await startLimiter(config, log, metrics, {
    shared,
    onBlocked: (key, untilMs) => send({ t: "blocked", key, untilMs }),
  });
  // Snapshot loading as in one process; pools with this worker's share of their limits.
  const loader = createSnapshotLoader(config.apiKeyHashKey, limits.bruteForce, log, metrics, {
    adjustPool: (pool) => workerPool(pool, workers),
  });
  const load = ({ snapshot, source }: NonNullable<StartMessage["snapshot"]>) => {
    const ok = loader.load(snapshot, source);
    const reason = loader.status.lastRejected?.reason ?? "rejected";
    send({
      t: "loaded",
      serving: loader.status.version,
      ...(ok ? {} : { rejected: { version: snapshot.version, reason } }),
    });
  };
  const telemetry = await startObservability({ accessLog: config.accessLog }, metrics);
  // The snapshot first: no connection reaches a worker that would answer 503 for want of one.
  if (start.snapshot) load(start.snapshot);
  const listener = await startDataPlane(config, { loader, limits, telemetry }, log);
  send({ t: "listening", port: listener.address.port });
  const sendUsage = () => {
    const entries = loader.current?.auth.usage.read() ?? [];
    if (entries.length > 0) send({ t: "usage", entries });
  };
  const usage = setInterval(sendUsage, USAGE_MS);
  usage.unref();
  const shutdown = gracefulShutdown(
    { listener, loader, limiter: limits.limiter, observability: telemetry },
    config.drainMs,
    log,
  );
  const drain = () => {
    clearInterval(usage);
    sendUsage();
    void shutdown().then(() => process.exit(0));
  };
  // A primary that is gone (killed) cannot tell this worker to drain: it drains on its own.
  process.once("disconnect", drain);

  return (m) => {
    if (m.t === "snapshot") load(m);
    else if (m.t === "limits") shared.answered(m.id, m.decisions);
    else if (m.t === "blocked") limits.bruteForce?.learn(m.key, m.untilMs);
    else if (m.t === "log-level") log.level = m.level;
    else if (m.t === "drain") drain();
    else if (m.t === "ask" && m.what === "status") {
      const pools = [...(loader.current?.pools.values() ?? [])].map((p) => p.describe());
      const { connections } = listener;
      const body: WorkerStatus = { pid: process.pid, serving: loader.status.version, connections, pools };
      send({ t: "answer", id: m.id, body });
    } else if (m.t === "ask" && m.what === "metrics")
      void (metrics?.registry.getMetricsAsJSON() ?? Promise.resolve([])).then((body) =>
        send({ t: "answer", id: m.id, body }),
      );
  };
}
