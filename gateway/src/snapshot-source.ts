// Where this gateway's snapshots come from: exactly one of --config-dir (standalone),
// --snapshot-file or --snapshot-secret (the operator's, in a cluster). Each loads at once
// and then on every change; see sources/.
import type { Logger } from "pino";
import type { GatewayConfig } from "./config.ts";
import { startConfigDirSource } from "./sources/config-dir-source.ts";
import { startSnapshotFileSource } from "./sources/snapshot-file-source.ts";
import { startSnapshotSecretSource } from "./sources/snapshot-secret-source.ts";
import type { SnapshotSink, SnapshotSource } from "./sources/source.ts";

export type { SnapshotSink, SnapshotSource } from "./sources/source.ts";

export function startSnapshotSource(
  config: GatewayConfig,
  loader: SnapshotSink,
  log: Logger,
): SnapshotSource {
  if (config.snapshotSecret) {
    return startSnapshotSecretSource(
      { secret: config.snapshotSecret, kubeconfig: config.kubeconfig, identity: config.identity },
      loader,
      log,
    );
  }
  if (config.configDir) return startConfigDirSource(config.configDir, config.apiKeyHashKey, loader, log);
  return startSnapshotFileSource(config.snapshotFile as string, loader, log);
}
