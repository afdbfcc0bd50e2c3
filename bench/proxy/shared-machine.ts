// The machine may be shared (another session's test suite, a build, the hypervisor's other
// guests), and anything else running on core 0 or 1 is measured as part of a proxy or of the
// load side. So a bench waits for idle cores before a target, measures the CPU other
// processes (and steal) used during each run, repeats runs where that was above 0.1 core, and
// notes the ones it kept anyway. Shared by run.ts and latency.ts.
//
// Env: BENCH_QUIET_WAIT=60 (s to wait for idle CPUs; noted when exceeded)
//      BENCH_RETRIES=2 (repeats of a run that other processes shared)
import { setTimeout as sleep } from "node:timers/promises";
import { busyPercent, foreignCores, sampleCpu } from "./cpu.ts";
import { PROXY_CPU } from "./live-target.ts";
import { LOAD_CPU } from "./load.ts";
import { groups } from "./procs.ts";

export const CPUS = [PROXY_CPU, LOAD_CPU];
export const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT ?? 60);
const RETRIES = Number(process.env.BENCH_RETRIES ?? 2);
/** Above this much CPU (in cores) used by other processes during a run, the run is repeated. */
const FOREIGN_MAX = 0.1;

/**
 * Waits up to BENCH_QUIET_WAIT s for both cores to be idle (≤ 10 % busy over 1 s), and notes
 * it in the report when they never were. Returns the last sample, "CPU0/CPU1" busy %.
 */
export async function waitForQuiet(what: string, notes: string[]): Promise<string> {
  const deadline = Date.now() + QUIET_WAIT_S * 1000;
  for (let waited = 0; ; waited++) {
    const t0 = sampleCpu(groups());
    await sleep(1000);
    const busy = busyPercent(t0, sampleCpu(groups()), CPUS);
    if (busy.split("/").every((b) => Number(b) <= 10)) {
      if (waited > 0) console.error(`waited ${waited} s for idle CPUs before ${what}`);
      return busy;
    }
    if (Date.now() > deadline) {
      notes.push(
        `before ${what}, with none of the bench's load running, CPU0/CPU1 were ${busy} % busy: something else was running`,
      );
      return busy;
    }
    if (waited % 10 === 0) console.error(`waiting for idle CPUs before ${what} (CPU0/CPU1 ${busy} % busy)`);
  }
}

export type Measured<T> = T & { busy: string; foreign: number };

/**
 * One load run with the CPU accounting around it. When other processes used more than
 * FOREIGN_MAX cores meanwhile, the run measured them too: wait for quiet and repeat it
 * (BENCH_RETRIES times at most, then keep it with a note). `describe` is the run's log line.
 */
export async function measure<T>(
  what: string,
  run: () => Promise<T>,
  describe: (r: T) => string,
  notes: string[],
): Promise<Measured<T>> {
  for (let attempt = 0; ; attempt++) {
    const a = sampleCpu(groups());
    const r = await run();
    const b = sampleCpu(groups());
    const m = { ...r, busy: busyPercent(a, b, CPUS), foreign: foreignCores(a, b) };
    const other = `other processes/steal ${m.foreign.toFixed(2)} cores`;
    console.error(`${what}: ${describe(r)}, CPU0/CPU1 busy ${m.busy} %, ${other}`);
    if (m.foreign <= FOREIGN_MAX) return m;
    if (attempt >= RETRIES) {
      notes.push(`${what}: ${other} used meanwhile (kept after ${attempt} retries): its numbers may be low`);
      return m;
    }
    console.error(`${what}: repeating, ${other} shared the machine`);
    await waitForQuiet(what, []);
  }
}
