// A process benched under the memory limit its pod would have. The limit matters beyond the
// kernel's OOM line: Node sizes V8's heap from it (a 512 MiB cgroup gives a ~260 MB heap
// limit, an unlimited 24 GiB machine ~4.3 GB), and V8 lets garbage pile up far longer under
// a high heap limit, so a process benched without one shows memory no pod would keep.
// The limit is a memory cgroup (v2, or v1's memory controller) made for the bench; the
// command given is wrapped so that it enters the cgroup before it execs.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface MemoryLimit {
  /** The command, entering the cgroup first. */
  command: string[];
  /** What the report says: the limit and where it came from. */
  describe: string;
  /** Removes the cgroup (after its processes have exited). */
  remove(): void;
}

/** `resources.limits.memory` of a component in the chart's values.yaml, in MiB. */
export function chartMemoryLimitMiB(root: string, component: "operator" | "gateway"): number {
  const values = parse(readFileSync(join(root, "charts/sluice/values.yaml"), "utf8")) as Record<
    string,
    { resources?: { limits?: { memory?: string } } }
  >;
  const text = values[component]?.resources?.limits?.memory;
  const m = /^(\d+)(Mi|Gi)$/.exec(text ?? "");
  if (!m) throw new Error(`charts/sluice/values.yaml: ${component}.resources.limits.memory is "${text}"`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

/** Wraps `command` to run in a new memory cgroup of `limitMiB`; throws when none can be made. */
export function underMemoryLimit(command: string[], limitMiB: number, name: string): MemoryLimit {
  const bytes = String(limitMiB * 1024 * 1024);
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const dir = v2 ? join("/sys/fs/cgroup", name) : join("/sys/fs/cgroup/memory", name);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"), bytes);
  } catch (err) {
    throw new Error(`a memory cgroup for the bench (${dir}) could not be made (run as root): ${err}`);
  }
  const procs = join(dir, "cgroup.procs");
  return {
    // The shell puts itself in the cgroup, then becomes the command (same pid, same cgroup).
    command: ["sh", "-c", `echo $$ > ${procs} && exec "$@"`, "sh", ...command],
    describe: `${limitMiB} MiB (cgroup ${v2 ? "v2" : "v1"} ${dir})`,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // Still in use (a process outlived the bench) or already gone: left for the system.
      }
    },
  };
}
