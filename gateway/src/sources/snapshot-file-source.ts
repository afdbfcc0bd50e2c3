// --snapshot-file: a snapshot the operator (or `sluice compile`) already compiled, as JSON,
// read again whenever the file changes.
import { readFileSync, watch } from "node:fs";
import type { Logger } from "pino";
import { readAndLoad, type SnapshotSink, type SnapshotSource } from "./source.ts";

export function startSnapshotFileSource(file: string, loader: SnapshotSink, log: Logger): SnapshotSource {
  const reload = () => readAndLoad(loader, log, file, () => JSON.parse(readFileSync(file, "utf8")));
  reload();
  const watcher = watch(file, () => reload());
  return { reload, close: () => watcher.close() };
}
