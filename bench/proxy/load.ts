// Load generators for the proxy bench's saturation runs, always pinned to core 1 (with the
// upstream). wrk (Debian) is preferred: C, one thread, far cheaper per request than a Node
// client. autocannon (npm) is the fallback when wrk is missing; it costs more CPU per request,
// so on the shared core it lowers the ceiling that `direct` shows.
// Both are closed loop — a connection sends its next request only once the last one was
// answered — so their latencies hide a stall rather than show it: latency is measured open
// loop by latency.ts (vegeta). The fixed-rate half-load runs that used to be here were
// closed loop too and are gone.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hasTaskset, runProc, which } from "./procs.ts";

export const LOAD_CPU = "1";

export interface LoadResult {
  rps: number;
  p50: number; // ms
  p99: number; // ms
  requests: number;
  errors: number; // socket errors + non-2xx/3xx responses
}

export interface Loader {
  name: string; // with version, for the report
  /**
   * A saturation run: `conns` connections, each sending as fast as it is answered. The
   * fourth argument used to ask for a fixed rate; it stays, always undefined, so that the
   * callers passing `undefined` there (paired.ts) need no change.
   */
  run(
    url: string,
    conns: number,
    seconds: number,
    noRate?: undefined,
    headers?: Record<string, string>,
  ): Promise<LoadResult>;
}

export function pickLoader(root: string, logDir: string): Loader {
  // BENCH_LOADER=autocannon forces the fallback, to check it still works.
  const wrk = process.env.BENCH_LOADER === "autocannon" ? null : which("wrk");
  if (wrk) return wrkLoader(wrk, logDir);
  const ac = join(root, "node_modules/autocannon/autocannon.js");
  if (existsSync(ac)) return autocannonLoader(ac, logDir);
  throw new Error("neither wrk nor autocannon found: run bench/proxy/install.sh");
}

function wrkLoader(wrk: string, logDir: string): Loader {
  return {
    name: `wrk ${/wrk (\S+)/.exec(safeOut(wrk, ["-v"]))?.[1] ?? "?"}, 1 thread`,
    async run(url, conns, seconds, _noRate, headers = {}) {
      const h = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
      const args = ["-t1", `-c${conns}`, `-d${seconds}s`, "--latency", ...h, url];
      return parseWrk(await runOnLoadCore("wrk", [wrk, ...args], logDir));
    },
  };
}

/** Parses wrk's --latency output. */
export function parseWrk(out: string): LoadResult {
  const pct = (p: string) => {
    // wrk prints "  99%    1.23ms"
    const m = new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`no ${p}% line in wrk output:\n${out}`);
    const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
    return Number(m[1]) * unit;
  };
  const rps = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/^\s*(\d+) requests in/m.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50: pct("50"), p99: pct("99"), requests, errors };
}

function autocannonLoader(ac: string, logDir: string): Loader {
  return {
    name: `autocannon ${safeOut(process.execPath, [ac, "--version"]).match(/v?(\d+\.\d+\.\d+)/)?.[1] ?? "?"}`,
    async run(url, conns, seconds, _noRate, headers = {}) {
      const args = [process.execPath, ac, "-j", "-c", String(conns), "-d", String(seconds)];
      for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
      const out = await runOnLoadCore("autocannon", [...args, url], logDir);
      const j = JSON.parse(out.slice(out.indexOf("{"))) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      return {
        rps: j.requests.average,
        p50: j.latency.p50,
        p99: j.latency.p99,
        requests: j.requests.total,
        errors: j.errors + j.timeouts + j.non2xx,
      };
    },
  };
}

/**
 * Runs a load generator to its end on the load core and returns its output. Pinned here rather
 * by runProc's `cpu`: runProc pipes a pinned process's stdout through `cat` into a log opened
 * for appending, so the output could be read before its last lines landed, and after earlier
 * runs' (a saturation run read the warm-up's req/s). This way the process writes straight into
 * a fresh log of its own, complete once it has exited.
 */
export function runOnLoadCore(name: string, argv: string[], logDir: string): Promise<string> {
  rmSync(join(logDir, `${name}.log`), { force: true });
  return runProc(name, [...(hasTaskset ? ["taskset", "-c", LOAD_CPU] : []), ...argv], logDir);
}

function safeOut(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    // wrk -v exits 1 after printing its version
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
}
