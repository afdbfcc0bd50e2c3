// vegeta, latency.ts's open-loop load generator, pinned to the load core (core 1) with the
// upstream. Built from its Go module by scripts/tools/build-vegeta.sh (cached in .cache/).
//
// Settings, and why:
// - -rate: requests are sent on a fixed schedule whatever the answers, so a stall of the target
//   shows as latency of every request sent meanwhile, instead of pausing the load (closed
//   loop, wrk) and hiding it.
// - -max-workers unset (unlimited): when every worker waits for an answer, vegeta starts
//   another rather than sending late; with a cap, the schedule itself would wait on the target.
//   -workers starts one per connection so that none are started during the measured time.
// - -max-connections and -connections: a keep-alive pool of `conns` connections, like a client
//   with a pool (and like run.ts's wrk). A request finding them all busy waits for one; that
//   wait counts in its latency, since vegeta takes the send time first.
// - -max-body=0: vegeta keeps no response bodies, so its results file stays small.
// - Results are written to a file during the attack and read (encode -to csv, off the clock)
//   afterwards: see vegeta-results.ts for why percentiles are computed here.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { runOnLoadCore } from "./load.ts";
import { type OpenLoopSummary, parseCsvLine, summarize, type VegetaResult } from "./vegeta-results.ts";

export interface Vegeta {
  path: string;
  /** "vegeta v12.13.0", for the report. */
  name: string;
}

export interface Attack {
  url: string;
  /** req/s */
  rate: number;
  /** Measured seconds, after `settleSeconds` that are sent but left out. */
  seconds: number;
  settleSeconds: number;
  conns: number;
  headers?: Record<string, string>;
}

/** Builds vegeta when it is not cached yet (tens of seconds, once). */
export function buildVegeta(root: string): Vegeta {
  const r = spawnSync("bash", [join(root, "scripts/tools/build-vegeta.sh")], { encoding: "utf8" });
  const path = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !path) throw new Error(`scripts/tools/build-vegeta.sh failed:\n${r.stderr}`);
  const version = /^Version: (\S+)/m.exec(spawnSync(path, ["-version"], { encoding: "utf8" }).stdout);
  return { path, name: `vegeta ${version?.[1] ?? "?"}` };
}

export async function attack(vegeta: Vegeta, a: Attack, dir: string): Promise<OpenLoopSummary> {
  const out = join(dir, "vegeta-results.bin");
  const targets = join(dir, "vegeta-targets.txt");
  const headers = Object.entries(a.headers ?? {}).flatMap(([k, v]) => ["-header", `${k}: ${v}`]);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(targets, `GET ${a.url}\n`);
    await runOnLoadCore(
      "vegeta",
      [
        vegeta.path,
        "attack",
        `-targets=${targets}`,
        `-rate=${Math.round(a.rate)}/1s`,
        `-duration=${a.settleSeconds + a.seconds}s`,
        `-workers=${a.conns}`,
        `-connections=${a.conns}`,
        `-max-connections=${a.conns}`,
        "-max-body=0",
        "-timeout=10s",
        ...headers,
        `-output=${out}`,
      ],
      dir,
    );
    return summarize(await readResults(vegeta, out), a.settleSeconds);
  } finally {
    rmSync(out, { force: true });
  }
}

async function readResults(vegeta: Vegeta, file: string): Promise<VegetaResult[]> {
  const encode = spawn(vegeta.path, ["encode", "-to", "csv", file], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve, reject) => {
    encode.once("exit", resolve);
    encode.once("error", reject);
  });
  const results: VegetaResult[] = [];
  for await (const line of createInterface({ input: encode.stdout, crlfDelay: Number.POSITIVE_INFINITY })) {
    const r = parseCsvLine(line);
    if (r) results.push(r);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`vegeta encode ${file} exited with ${code}`);
  return results;
}
