// Load generators for the proxy bench, always pinned to core 1 (with the upstream).
// wrk (Debian) is preferred: C, one thread, far cheaper per request than a Node client.
// autocannon (npm) is the fallback when wrk is missing; it costs more CPU per request, so
// on the shared core it lowers the ceiling that `direct` shows.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runProc, which } from "./procs.ts";

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
  halfLoadMethod: string; // how run() at a fixed rate is done, for the report
  /** rate undefined: saturation (closed loop, `conns` connections); else about `rate` req/s. */
  run(
    url: string,
    conns: number,
    seconds: number,
    rate?: number,
    headers?: Record<string, string>,
  ): Promise<LoadResult>;
}

export function pickLoader(root: string, logDir: string): Loader {
  // BENCH_LOADER=autocannon forces the fallback, to check it still works.
  const wrk = process.env.BENCH_LOADER === "autocannon" ? null : which("wrk");
  if (wrk) return wrkLoader(wrk, which("wrk2") ?? process.env.BENCH_WRK2 ?? null, logDir);
  const ac = join(root, "node_modules/autocannon/autocannon.js");
  if (existsSync(ac)) return autocannonLoader(ac, logDir);
  throw new Error("neither wrk nor autocannon found: run bench/proxy/install.sh");
}

function wrkLoader(wrk: string, wrk2: string | null, logDir: string): Loader {
  return {
    name: `wrk ${/wrk (\S+)/.exec(safeOut(wrk, ["-v"]))?.[1] ?? "?"}, 1 thread`,
    halfLoadMethod: wrk2
      ? "wrk2 -R <half of saturation> (fixed rate, corrected for coordinated omission)"
      : "wrk with bench/proxy/pace.lua: same connections, each paced so the total is about half " +
        "the saturation rate (wrk2 is not in Debian; closed loop, so not corrected for coordinated omission; " +
        "not -c 4, which still saturates a Node proxy)",
    async run(url, conns, seconds, rate, headers = {}) {
      const h = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
      const common = ["-t1", `-c${conns}`, `-d${seconds}s`, "--latency", ...h];
      if (rate === undefined) return parseWrk(await runProc("wrk", [wrk, ...common, url], logDir, LOAD_CPU));
      if (wrk2)
        return parseWrk(
          await runProc("wrk2", [wrk2, ...common, `-R${Math.round(rate)}`, url], logDir, LOAD_CPU),
        );
      // Each connection's cycle is delay + latency, so a first delay of conns/rate overshoots
      // the cycle; a 2 s calibration run measures the latency share, and the delay drops by it.
      const target = (conns * 1000) / rate;
      const calib = await paced(["-t1", `-c${conns}`, "-d2s", "--latency", ...h], url, target);
      const overhead = (conns * 1000) / calib.rps - target;
      return paced(common, url, target - overhead);
    },
  };

  async function paced(args: string[], url: string, delayMs: number): Promise<LoadResult> {
    // The script reads the delay from its environment, which the wrk child inherits.
    process.env.WRK_DELAY_MS = String(Math.max(0, delayMs));
    const script = join(import.meta.dirname, "pace.lua");
    try {
      return parseWrk(await runProc("wrk-paced", [wrk, ...args, "-s", script, url], logDir, LOAD_CPU));
    } finally {
      delete process.env.WRK_DELAY_MS;
    }
  }
}

/** Parses wrk's (and wrk2's) --latency output. */
export function parseWrk(out: string): LoadResult {
  const pct = (p: string) => {
    // wrk prints "  99%    1.23ms", wrk2 "  99.000%    1.23ms"
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
    halfLoadMethod:
      "autocannon --overallRate <half of saturation> (fixed rate, not corrected for coordinated omission)",
    async run(url, conns, seconds, rate, headers = {}) {
      const args = [process.execPath, ac, "-j", "-c", String(conns), "-d", String(seconds)];
      for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
      if (rate !== undefined) args.push("--overallRate", String(Math.round(rate)));
      const out = await runProc("autocannon", [...args, url], logDir, LOAD_CPU);
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

function safeOut(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    // wrk -v exits 1 after printing its version
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
}
