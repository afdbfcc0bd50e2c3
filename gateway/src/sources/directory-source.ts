// Standalone mode: the five kinds and Secrets as YAML files in a directory, compiled
// in-process by the same compileSnapshot the operator uses, and watched: changes are
// debounced and recompiled. A file that does not parse keeps the last good snapshot
// (dropping its objects would silently delete routes).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { compileSnapshot } from "../../../operator/src/compile/compile.ts";
import type { ObjectStatus } from "../../../operator/src/compile/status-book.ts";
import { GatewayError } from "../errors.ts";
import type { Snapshot } from "../snapshot/schema.ts";

export interface DirectoryCompile {
  snapshot: Snapshot;
  statuses: ObjectStatus[];
}

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (name.startsWith(".")) return [];
      if (statSync(path).isDirectory()) return files(path);
      return /\.(ya?ml|json)$/.test(name) ? [path] : [];
    });
}

/** Reads and compiles the directory; throws SLUICE_SOURCE_UNREADABLE naming the file. */
export function compileDirectory(dir: string, apiKeyHashKey: string): DirectoryCompile {
  const objects: unknown[] = [];
  let paths: string[];
  try {
    paths = files(dir);
  } catch (err) {
    throw new GatewayError("SLUICE_SOURCE_UNREADABLE", `${dir}: ${(err as Error).message}`);
  }
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new GatewayError("SLUICE_SOURCE_UNREADABLE", `${path}: ${(err as Error).message}`);
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        throw new GatewayError(
          "SLUICE_SOURCE_UNREADABLE",
          `${relative(dir, path)}: ${doc.errors[0]?.message}`,
        );
      }
      const value = doc.toJS();
      if (value !== null && value !== undefined) objects.push(value);
    }
  }
  return compileSnapshot(objects, { apiKeyHashKey });
}

// The watch lives in its own file; re-exported here for the callers that import it from here.
export { type DirectoryWatch, watchDirectory } from "./directory-watch.ts";
