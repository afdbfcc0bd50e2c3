#!/usr/bin/env node
// The `sluice` command.
//   sluice gateway --config-dir DIR [--listen HOST:PORT] [--admin-listen HOST:PORT] [--workers N] …
//   sluice operator [--kubeconfig FILE] [--namespace NS] …   the control plane in a cluster
//   sluice compile [--strict] FILE|DIR…   check manifests and print each object's conditions
import type { Logger } from "pino";
import { createLogger } from "../core/admin/log-format.ts";
import { hasCode, SluiceError, type WorkersFailedError } from "../core/api/errors.ts";
import { type GatewayConfig, loadGatewayConfig } from "../gateway/src/config.ts";
import { startGateway } from "../gateway/src/server.ts";
import { defaultWorkers } from "../gateway/src/workers/cpu-limit.ts";
import { stdoutRelay } from "../gateway/src/workers/output-relay.ts";
import { startPrimary } from "../gateway/src/workers/primary.ts";

// The other commands' modules load only for them: a gateway holds none of the operator's
// or the compile command's code in memory.
const GATEWAY_USAGE = `  sluice gateway (--config-dir DIR | --snapshot-file FILE) [--listen HOST:PORT] [--admin-listen HOST:PORT]
                 [--trusted-hops N] [--max-header-bytes N] [--max-body-bytes N] [--drain-ms N] [--workers N]
                 [--config FILE]`;

/** A bad command line: what was wrong (the message, which starts with its code), usage, exit 2. */
async function usageError(err?: unknown) {
  if (err !== undefined) console.error(err instanceof SluiceError ? err.message : err);
  const [{ OPERATOR_USAGE }, { COMPILE_USAGE }] = await Promise.all([
    import("./operator-command.ts"),
    import("./compile-command.ts"),
  ]);
  console.error(`usage:\n${GATEWAY_USAGE}\n${OPERATOR_USAGE}\n${COMPILE_USAGE}`);
  process.exitCode = 2;
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (command === "compile") {
    const { compileFilesCommand } = await import("./compile-command.ts");
    return compileFilesCommand(rest.length > 0 ? rest : ["."]);
  }
  if (command === "operator") {
    try {
      const { operatorCommand } = await import("./operator-command.ts");
      return await operatorCommand(rest);
    } catch (err) {
      if (!hasCode(err, "SLUICE_CONFIG_INVALID")) throw err;
      return usageError(err);
    }
  }
  if (command !== "gateway") return usageError();
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig(rest);
  } catch (err) {
    return usageError(err);
  }
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
    const config = hasCode(err, "SLUICE_CONFIG_INVALID");
    if (!config && !hasCode(err, "SLUICE_WORKERS_FAILED")) throw err;
    console.error((err as Error).message);
    process.exitCode = config ? 2 : 1;
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

await main(process.argv.slice(2));
