// A process's memory as the kernel and V8 see it, for the scale bench: resident set sizes
// from /proc/PID/status, and the V8 heap that memory-probe.mjs (loaded into the gateway with
// --import) writes on request.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Resident memory in MB (from kB in /proc/PID/status). */
export interface ProcMemory {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the most ever resident (the peak a memory limit must allow). */
  hwm: number;
  /** RssAnon: heap and stacks, what the process allocated. */
  anon: number;
  /** RssFile: mapped files (the node binary, shared libraries). */
  file: number;
}

/** Reads the VmRSS, VmHWM, RssAnon and RssFile lines of a /proc/PID/status text, in MB. */
export function parseProcStatus(text: string): ProcMemory {
  const mb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`no ${field} line in /proc/PID/status`);
    return Number(m[1]) / 1024;
  };
  return { rss: mb("VmRSS"), hwm: mb("VmHWM"), anon: mb("RssAnon"), file: mb("RssFile") };
}

export function procMemory(pid: number): ProcMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
}

/** What memory-probe.mjs writes: process.memoryUsage() and V8's heap spaces, in MB. */
export interface HeapSample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
}

export const PROBE = new URL("./memory-probe.mjs", import.meta.url).pathname;

/**
 * Asks the probe in `pid` for a sample (SIGUSR2) and waits for it; with `gc`, after a full
 * garbage collection, so heapUsed is what is live. `file` is the probe's PROBE_OUT.
 */
export async function heapSample(pid: number, file: string, gc = false): Promise<HeapSample> {
  rmSync(file, { force: true });
  writeFileSync(`${file}.gc`, gc ? "1" : "0");
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 200; i++) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as HeapSample;
    await sleep(25);
  }
  throw new Error(`memory probe of ${pid} did not answer (is ${PROBE} loaded with --import?)`);
}
