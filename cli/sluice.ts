#!/usr/bin/env node
// The `sluice` command.
//   sluice gateway --config-dir DIR [--listen HOST:PORT] [--admin-listen HOST:PORT] …
//   sluice operator [--kubeconfig FILE] [--namespace NS] …   the control plane in a cluster
//   sluice compile FILE|DIR…   check manifests and print each object's conditions
import { pino } from "pino";
import { hasCode, SluiceError } from "../core/api/errors.ts";
import { loadGatewayConfig } from "../gateway/src/config.ts";
import { startGateway } from "../gateway/src/server.ts";
import { compileFilesCommand } from "./compile-command.ts";
import { OPERATOR_USAGE, operatorCommand } from "./operator-command.ts";

const USAGE = `usage:
  sluice gateway (--config-dir DIR | --snapshot-file FILE) [--listen HOST:PORT] [--admin-listen HOST:PORT]
                 [--trusted-hops N] [--max-header-bytes N] [--max-body-bytes N] [--drain-ms N] [--config FILE]
${OPERATOR_USAGE}
  sluice compile FILE|DIR...`;

/** A bad command line: what was wrong (the message, which starts with its code), usage, exit 2. */
function usageError(err?: unknown) {
  if (err !== undefined) console.error(err instanceof SluiceError ? err.message : err);
  console.error(USAGE);
  process.exitCode = 2;
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (command === "compile") return compileFilesCommand(rest.length > 0 ? rest : ["."]);
  if (command === "operator") {
    try {
      return await operatorCommand(rest);
    } catch (err) {
      if (!hasCode(err, "SLUICE_CONFIG_INVALID")) throw err;
      return usageError(err);
    }
  }
  if (command !== "gateway") return usageError();
  const log = pino({ name: "sluice-gateway", level: process.env.SLUICE_LOG_LEVEL ?? "info" });
  let config: ReturnType<typeof loadGatewayConfig>;
  try {
    config = loadGatewayConfig(rest);
  } catch (err) {
    return usageError(err);
  }
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, log);
  } catch (err) {
    // A setting only found unusable at start (an unreadable kubeconfig): said, not a stack.
    if (!hasCode(err, "SLUICE_CONFIG_INVALID")) throw err;
    console.error((err as Error).message);
    process.exitCode = 2;
    return;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "shutting down");
      void gateway.shutdown().then(() => process.exit(0));
    });
  }
}

await main(process.argv.slice(2));
