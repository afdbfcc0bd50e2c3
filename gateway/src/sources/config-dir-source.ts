// Standalone: the --config-dir directory, compiled in-process by the operator's compile and
// watched (core/sources/directory-watch.ts says how renames, symlinks and mounts are caught).
import type { Logger } from "pino";
import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import { compileDirectory, notAccepted, watchDirectory } from "../../../core/sources/directory-source.ts";
import { readAndLoad, type SnapshotSink, type SnapshotSource } from "./source.ts";

export function startConfigDirSource(
  dir: string,
  apiKeyHashKey: string,
  loader: SnapshotSink,
  log: Logger,
): SnapshotSource {
  // Objects of the directory that are not accepted, with why, for /status.
  let problems: ReturnType<typeof notAccepted> = [];
  // The snapshot loaded last: where an object that became invalid finds its last good
  // version. Kept here, not by the loader: a replica, which never compiles, has no use for it.
  let served: Snapshot | undefined;
  const reload = () => {
    let compiled: Snapshot | undefined;
    const loaded = readAndLoad(loader, log, dir, () => {
      const { snapshot, statuses } = compileDirectory(dir, apiKeyHashKey, served);
      compiled = snapshot;
      problems = notAccepted(statuses);
      for (const s of statuses) {
        for (const c of s.conditions) {
          if (c.status === "False" || c.type === "Conflicted" || c.type === "Fallback") {
            log.warn(
              { kind: s.kind, object: `${s.namespace}/${s.name}`, condition: c.type, reason: c.reason },
              c.message,
            );
          }
        }
      }
      return snapshot;
    });
    if (loaded) served = compiled;
  };
  reload();
  const watch = watchDirectory(dir, reload);
  return { reload, objects: () => problems, close: () => watch.close() };
}
