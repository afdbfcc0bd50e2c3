// The default of --workers: as many gateway processes as the container may use cores. A pod's
// CPU limit reaches the container as a CFS quota (cgroup v2: /sys/fs/cgroup/cpu.max, "QUOTA
// PERIOD" or "max PERIOD"; cgroup v1: cpu.cfs_quota_us, -1 for none, and cpu.cfs_period_us).
// A limit of 1.5 cores is 2 workers: the quota is spent across all threads, so the second
// process uses the half core the first cannot. Without a limit, one process: on a shared node
// the cores are the neighbours' too, and one is what the gateway always was.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

const MAX_WORKERS = 64;

type Read = (path: string) => string | undefined;

const readText: Read = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** The CPU limit in cores (1.5 for "150000 100000"), or undefined when there is none. */
export function cpuLimit(read: Read = readText): number | undefined {
  const v2 = read("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  if (v2) return cores(v2[0], v2[1]);
  for (const dir of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota !== undefined) return cores(quota.trim(), read(`${dir}/cpu.cfs_period_us`)?.trim());
  }
  return undefined;
}

function cores(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined; // "max", -1
  return q / p;
}

/**
 * Workers when --workers is not given: the CPU limit rounded up, at most the cores this
 * process can run on (a limit above the node's size buys nothing), or 1 without a limit.
 */
export function defaultWorkers(limit = cpuLimit(), cores = availableParallelism()): number {
  if (limit === undefined) return 1;
  return Math.max(1, Math.min(Math.ceil(limit - 1e-9), cores, MAX_WORKERS));
}
