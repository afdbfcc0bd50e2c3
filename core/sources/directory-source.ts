// Standalone mode: the five kinds and Secrets as YAML files in a directory, compiled
// in-process by the same compileSnapshot the operator uses, and watched: changes are
// debounced and recompiled. A file that does not parse, or an object of a kind or
// apiVersion Sluice does not read, keeps the last good snapshot (dropping its objects
// would silently delete routes or policies). The snapshot served so far is passed to
// compile, so an object that became invalid keeps its last good version there too.

import { SourceUnreadableError } from "../api/errors.ts";
import type { Snapshot } from "../api/snapshot/schema.ts";
import { compileSnapshot } from "../compile/compile.ts";
import type { ObjectStatus } from "../compile/status-book.ts";
import { readManifests } from "./manifest-files.ts";

export interface DirectoryCompile {
  snapshot: Snapshot;
  statuses: ObjectStatus[];
}

/** Reads and compiles the directory; throws SLUICE_SOURCE_UNREADABLE naming each refused file and object. */
export function compileDirectory(dir: string, apiKeyHashKey: string, previous?: Snapshot): DirectoryCompile {
  let read: ReturnType<typeof readManifests>;
  try {
    read = readManifests([dir], dir);
  } catch (err) {
    throw new SourceUnreadableError(`${dir}: ${(err as Error).message}`);
  }
  if (read.problems.length > 0) throw new SourceUnreadableError(read.problems.join("; "));
  return compileSnapshot(read.objects, { apiKeyHashKey, ...(previous ? { previous } : {}) });
}

/** Objects not accepted (and what is served in their place), for the admin /status page. */
export function notAccepted(statuses: readonly ObjectStatus[]) {
  return statuses
    .filter((s) => s.conditions.some((c) => c.type === "Accepted" && c.status === "False"))
    .map((s) => ({
      kind: s.kind,
      object: `${s.namespace}/${s.name}`,
      conditions: s.conditions
        .filter((c) => c.status === "False" || c.type === "Fallback")
        .map(({ type, reason, message }) => ({ type, reason, message })),
    }));
}

// The watch lives in its own file; re-exported here for the callers that import it from here.
export { type DirectoryWatch, watchDirectory } from "./directory-watch.ts";
