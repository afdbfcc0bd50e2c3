// Where this gateway's snapshots come from: exactly one of --config-dir (standalone),
// --snapshot-file or --snapshot-secret (the operator's, in a cluster). Each loads at once
// and then on every change; see sources/. Only the chosen source's module is loaded: the
// directory's brings the whole compile (YAML, the kinds' schemas, CEL), which a replica
// loading the operator's snapshot never runs.
import type { Logger } from "pino";
import type { GatewayConfig } from "./config.ts";
import type { SnapshotSink, SnapshotSource } from "./sources/source.ts";

export type { SnapshotSink, SnapshotSource } from "./sources/source.ts";

export async function startSnapshotSource(
  config: GatewayConfig,
  loader: SnapshotSink,
  log: Logger,
): Promise<SnapshotSource> {
  if (config.snapshotSecret) {
    const { startSnapshotSecretSource } = await import("./sources/snapshot-secret-source.ts");
    return startSnapshotSecretSource(
      { secret: config.snapshotSecret, kubeconfig: config.kubeconfig, identity: config.identity },
      loader,
      log,
    );
  }
  if (config.configDir) {
    const { startConfigDirSource } = await import("./sources/config-dir-source.ts");
    return startConfigDirSource(config.configDir, config.apiKeyHashKey, loader, log);
  }
  const { startSnapshotFileSource } = await import("./sources/snapshot-file-source.ts");
  return startSnapshotFileSource(config.snapshotFile as string, loader, log);
}
