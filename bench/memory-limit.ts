// A process benched under the memory limit its pod would have. The limit matters beyond the
// kernel's OOM line: Node sizes V8's heap from it (a 512 MiB cgroup gives a ~260 MB heap
// limit, an unlimited 24 GiB machine ~4.3 GB), and V8 lets garbage pile up far longer under
// a high heap limit, so a process benched without one shows memory no pod would keep.
// The limit is a memory cgroup (v2, or v1's memory controller) made for the bench; a prefix
// before the command makes it enter the cgroup before it execs.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface MemoryLimit {
  /** Put before a command: it enters the cgroup, then execs the command (same pid). */
  prefix: string[];
  /** What the report says: the limit and where it came from. */
  describe: string;
  /** Removes the cgroup (after its processes have exited). */
  remove(): void;
}

/** The limit a bench runs `component` under, in MiB: BENCH_MEMORY_LIMIT_MIB, else the chart's (0: none). */
function limitMiB(root: string, component: "operator" | "gateway"): number {
  return Number(process.env.BENCH_MEMORY_LIMIT_MIB ?? chartMemoryLimitMiB(root, component));
}

/**
 * `component`'s limit as a command prefix, its cgroup (named after `name`) removed when the
 * bench exits; and the sentence its report says of it.
 */
export function benchMemoryLimit(
  root: string,
  component: "operator" | "gateway",
  name: string = component,
): { prefix: string[]; report: string } {
  const mib = limitMiB(root, component);
  if (mib <= 0)
    return {
      prefix: [],
      report: "with no memory limit (BENCH_MEMORY_LIMIT_MIB=0): V8 sizes its heap from the whole machine.",
    };
  const limit = underMemoryLimit(mib, `sluice-bench-${name}-${process.pid}`);
  process.once("exit", limit.remove);
  return {
    prefix: limit.prefix,
    report: `under a memory limit of ${limit.describe}: the chart's ${component} limit, from which Node sizes V8's heap as in the pod.`,
  };
}

/**
 * `argv` under a memory limit of its own of the chart's gateway limit: each proxy a
 * throughput or latency bench compares (Sluice and the Node peers alike; nginx does not
 * care) runs as a pod would run it. Unlimited, V8 sizes its heap for the whole machine and
 * how far it lets the heap grow depends on how fast its first collections were — with two
 * processes starting on one core, a gateway settled at a 250 MB heap one run and 150 the
 * next, ~20 % slower (docs/benchmarks.md). One cgroup per process: the limit is not shared.
 */
export function underGatewayLimit(root: string, name: string, argv: string[]): string[] {
  return [...benchMemoryLimit(root, "gateway", `proxy-${name}`).prefix, ...argv];
}

/** What a proxy bench's report says of underGatewayLimit. */
export function gatewayLimitReport(root: string): string {
  const mib = limitMiB(root, "gateway");
  return mib > 0
    ? `Each proxy process ran under a memory limit of ${mib} MiB (a cgroup of its own; the chart's gateway limit), from which Node sizes V8's heap as in a pod.`
    : "No memory limit (BENCH_MEMORY_LIMIT_MIB=0): V8 sized each proxy's heap from the whole machine.";
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

/** A new memory cgroup of `limitMiB` and the prefix that runs a command in it; throws when none can be made. */
export function underMemoryLimit(limitMiB: number, name: string): MemoryLimit {
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
    prefix: ["sh", "-c", `echo $$ > ${procs} && exec "$@"`, "sh"],
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
