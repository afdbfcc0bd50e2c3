// CPU accounting for the proxy bench, from /proc (in jiffies). Two questions per run:
// - which core was the limit: busy % of CPU 0 (the proxy) and CPU 1 (load + upstream);
// - did anything else run meanwhile (a test suite, a build on a shared machine, other guests
//   of the hypervisor)? Foreign CPU = all process time on the machine, plus steal, minus the
//   bench's own processes, so a run that shared the cores can be repeated, not reported.
import { readdirSync, readFileSync } from "node:fs";

export interface CpuSample {
  perCpu: Map<string, [busy: number, total: number]>;
  tasks: number; // user+nice+system of all CPUs (time spent running processes) + steal
  ours: number; // utime+stime of the bench's processes, reaped children (wrk) included
}

/** `groups`: process groups of the bench's children (each is started in its own). */
export function sampleCpu(groups: Set<number>): CpuSample {
  const perCpu = new Map<string, [number, number]>();
  let tasks = 0;
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const [cpu, ...f] = line.trim().split(/\s+/);
    const n = f.map(Number);
    // Steal: time the hypervisor ran other guests on our vCPUs, contention as real as a process.
    if (cpu === "cpu") tasks = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[7] ?? 0);
    if (!cpu || !/^cpu\d+$/.test(cpu)) continue;
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // up to steal; guest is inside user
    perCpu.set(cpu, [total - (n[3] ?? 0) - (n[4] ?? 0), total]); // idle and iowait are not busy
  }
  // The bench itself, plus wrk once reaped (a waited-for child's time moves to cutime/cstime).
  const self = procStat("self");
  let ours = self ? self.utime + self.stime + self.cutime + self.cstime : 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const s = procStat(pid);
    if (s && groups.has(s.pgrp)) ours += s.utime + s.stime;
  }
  return { perCpu, tasks, ours };
}

function procStat(pid: string) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces and parentheses: f[0] is field 3.
    const f = text
      .slice(text.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    return { pgrp: f[2] ?? 0, utime: f[11] ?? 0, stime: f[12] ?? 0, cutime: f[13] ?? 0, cstime: f[14] ?? 0 };
  } catch {
    return null; // exited meanwhile
  }
}

/** "CPU0/CPU1" busy %: ~100 on CPU 0 means the proxy was the limit; on CPU 1, load + upstream. */
export function busyPercent(a: CpuSample, b: CpuSample, cpus: string[]): string {
  return cpus
    .map((cpu) => {
      const [b0 = 0, t0 = 0] = a.perCpu.get(`cpu${cpu}`) ?? [];
      const [b1 = 0, t1 = 0] = b.perCpu.get(`cpu${cpu}`) ?? [];
      return t1 > t0 ? Math.round((100 * (b1 - b0)) / (t1 - t0)) : "?";
    })
    .join("/");
}

/** Cores' worth of CPU that processes other than the bench's (or steal) used between a and b. */
export function foreignCores(a: CpuSample, b: CpuSample): number {
  const elapsed =
    [...b.perCpu.values()].reduce((s, [, t]) => s + t, 0) -
    [...a.perCpu.values()].reduce((s, [, t]) => s + t, 0);
  const perCore = elapsed / Math.max(1, b.perCpu.size);
  // Counters are read at slightly different instants: clamp the small negative noise.
  return perCore > 0 ? Math.max(0, (b.tasks - a.tasks - (b.ours - a.ours)) / perCore) : 0;
}

export function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return m?.[1]?.trim() ?? "unknown CPU";
}
