#!/usr/bin/env node
// The `sluice` command.
//   sluice gateway --config-dir DIR [--listen HOST:PORT] [--admin-listen HOST:PORT] [--workers N] …
//   sluice operator [--kubeconfig FILE] [--namespace NS] …   the control plane in a cluster
//   sluice compile [--strict] FILE|DIR…   check manifests and print each object's conditions
// Each command's modules load only for it: a gateway holds none of the operator's or the
// compile command's code in memory, and the operator none of the data plane's (undici,
// ioredis, jose, the gateway's config schema).
import { hasCode, SluiceError } from "../core/api/errors.ts";
import type { GatewayConfig } from "../gateway/src/config.ts";

/** A bad command line: what was wrong (the message, which starts with its code), usage, exit 2. */
async function usageError(err?: unknown) {
  if (err !== undefined) console.error(err instanceof SluiceError ? err.message : err);
  const [{ GATEWAY_USAGE }, { OPERATOR_USAGE }, { COMPILE_USAGE }] = await Promise.all([
    import("./gateway-command.ts"),
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
  const { loadGatewayConfig } = await import("../gateway/src/config.ts");
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig(rest);
  } catch (err) {
    return usageError(err);
  }
  const { gatewayCommand } = await import("./gateway-command.ts");
  return gatewayCommand(config);
}

await main(process.argv.slice(2));
