// `sluice gateway`: one gateway process, or with --workers N above 1 the primary of N
// (ADR 0005). Flags, a --config file or SLUICE_* environment variables (gateway/src/config.ts).
import type { Logger } from "pino";
import { createLogger } from "../core/admin/log-format.ts";
import { hasCode, type WorkersFailedError } from "../core/api/errors.ts";
import type { GatewayConfig } from "../gateway/src/config.ts";
import { startGateway } from "../gateway/src/server.ts";
import { defaultWorkers } from "../gateway/src/workers/cpu-limit.ts";
import { stdoutRelay } from "../gateway/src/workers/output-relay.ts";
import { startPrimary } from "../gateway/src/workers/primary.ts";

export const GATEWAY_USAGE = `  sluice gateway (--config-dir DIR | --snapshot-file FILE) [--listen HOST:PORT] [--admin-listen HOST:PORT]
                 [--trusted-hops N] [--max-header-bytes N] [--max-body-bytes N] [--drain-ms N] [--workers N]
                 [--config FILE]`;

/** Starts the gateway `config` describes (already parsed: a bad command line never gets here). */
export async function gatewayCommand(config: GatewayConfig) {
  const level = process.env.SLUICE_LOG_LEVEL ?? "info";
  const workers = config.workers ?? defaultWorkers();
  let running: { log: Logger; shutdown: () => Promise<void> };
  try {
    if (workers > 1) running = await startWorkers(config, workers, level);
    else {
      const log = createLogger("sluice-gateway", level);
      const gateway = await startGateway(config, log);
      running = { log, shutdown: () => gateway.shutdown() };
    }
  } catch (err) {
    // A setting only found unusable at start (an unreadable kubeconfig, a port in use for
    // a worker): said, not a stack.
    const invalid = hasCode(err, "SLUICE_CONFIG_INVALID");
    if (!invalid && !hasCode(err, "SLUICE_WORKERS_FAILED")) throw err;
    console.error((err as Error).message);
    process.exitCode = invalid ? 2 : 1;
    return;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      running.log.info({ signal }, "shutting down");
      void running.shutdown().then(() => process.exit(0));
    });
  }
}

/**
 * --workers N above 1: this process becomes the primary of N gateway processes (ADR 0005).
 * Its log and the workers' output share one writer to stdout; it exits 1 if workers keep dying.
 */
async function startWorkers(config: GatewayConfig, workers: number, level: string) {
  let dropped = 0;
  const output = stdoutRelay((bytes) => {
    dropped += bytes;
  });
  const log = createLogger("sluice-gateway", level, { stream: output.stream });
  const primary = await startPrimary(config, workers, log, output);
  const shutdown = async () => {
    await primary.shutdown();
    if (dropped > 0) log.warn({ bytes: dropped }, "output dropped: stdout did not keep up");
    await output.close();
  };
  primary.failed.catch(async (err: WorkersFailedError) => {
    log.fatal({ code: err.code }, err.message);
    await shutdown();
    process.exit(1);
  });
  return { log, shutdown };
}
