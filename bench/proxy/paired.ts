// Paired proxy benchmark: what a feature costs, measured with and without it at the same
// moment on the same core.
//
//   node bench/proxy/paired.ts
//
// Why a second method: on a shared machine the core's speed itself moves. A fixed loop on
// core 0, idle otherwise, ran from 46k to 91k iterations per half second within one minute
// (2026-11-22), and a Sluice target's saturation req/s moved as much between runs a minute
// apart. run.ts interleaves its rounds, but two runs 10 s apart still see different
// machines, so its ratios swing by ±30 % per round. Here both targets of a pair run at once,
// pinned to core 0, and take turns: each is saturated alone by wrk on core 1 in short
// windows (BENCH_SLICES of them, A B B A …), so whatever slows the core within a round
// slows both alike. Each target's CPU time in its own windows (every thread, from
// /proc/PID/task/*/schedstat, in ns) divided by the requests it answered is its cost per
// request; the ratio of the two costs is the throughput the measured target keeps relative
// to its baseline (at saturation, req/s = 1 / CPU per request).
// - Until 2026-12-07 both sides were loaded at the same time, sharing the core
//   (BENCH_MODE=shared still does): the kernel switched between them thousands of times a
//   second and each evicted the other's code and data from the core's caches. That doubled
//   every target's CPU per request (Sluice 72 µs shared, 34 µs alone) and cost the larger
//   working set more, so its ratios were ~8 % below what each process does on a core of
//   its own, which is what a pod with a CPU limit gets. A/A spread: ±3 % alternating.
// - Each round starts both targets afresh (a process's JIT and heap layout shift its speed
//   by a few percent; fresh pairs spread that over the rounds), swaps which one starts
//   first and which port it gets, warms both up together, then measures.
// - The warm-up is long: a fresh gateway sharing a core kept getting faster for over 10 s
//   (JIT tiers, heap sizing). With 2–6 s of warm-up, A/A rounds ranged from ×0.54 to ×1.5;
//   with 15 s, from ×0.97 to ×1.06.
// - A/A pairs (BENCH_PAIRS=sluice/sluice) show the method's own spread: measure one with
//   every run, as the default pairs do.
//
// Env: BENCH_PAIRS=sluice/sluice-quiet,sluice-full/sluice,... (measured/baseline, any proxy target of
//        targets.ts; default: the A/A pair, then every cost with a target in the issues)
//      BENCH_ROUNDS=10  BENCH_DURATION=5 (s measured per side)  BENCH_SLICES=3  BENCH_WARMUP=15 (s)
//      BENCH_MODE=shared (both loaded at once, the method before 2026-12-07)
//      BENCH_CONNECTIONS=50 (per target)  BENCH_UPSTREAM=nginx|node
//      BENCH_BASELINE_CLI=<other checkout>/cli/sluice.ts (the baseline side runs it: with
//        BENCH_PAIRS=sluice/sluice, what a change did)
//      BENCH_OUT=docs/benchmarks.md ("-": stdout only)  BENCH_KEEP=1
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { gatewayLimitReport, underGatewayLimit } from "../memory-limit.ts";
import { type Backdrop, startBackdrop } from "./backdrop.ts";
import { busyPercent, cpuModel, foreignCores, sampleCpu } from "./cpu.ts";
import { targetContext } from "./live-target.ts";
import { LOAD_CPU, type Loader, type LoadResult, pickLoader } from "./load.ts";
import {
  benchWorkspace,
  groups,
  httpGet,
  type Proc,
  startProc,
  stopProc,
  waitUntilAnswers,
} from "./procs.ts";
import { median, writeMarkdown } from "./report.ts";
import { TARGETS, type Target, type TargetContext } from "./targets.ts";
import { BODY } from "./upstream.ts";

const PROXY_CPU = "0";
const env = process.env;
const cfg = {
  pairs: (
    env.BENCH_PAIRS ??
    "sluice/sluice,sluice/minimal-undici,sluice/fastify,sluice/sluice-quiet,sluice-limited/sluice,sluice-apikey/sluice,sluice-full/sluice,sluice-10k/sluice-apikey"
  )
    .split(",")
    .map((p) => p.trim().split("/") as [string, string]),
  rounds: Number(env.BENCH_ROUNDS ?? 10),
  seconds: Number(env.BENCH_DURATION ?? 5),
  warmup: Number(env.BENCH_WARMUP ?? 15),
  conns: Number(env.BENCH_CONNECTIONS ?? 50),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
  mode: env.BENCH_MODE === "shared" ? ("shared" as const) : ("alternating" as const),
  slices: Number(env.BENCH_SLICES ?? 3),
};

/** The bar each pair is held to, from the issues; absent: reported only. */
const TARGET_RATIO: Record<string, number> = {
  // Issue 17: the floor of a Node.js proxy (node:http + undici, nothing else), and a peer.
  "sluice/minimal-undici": 0.9,
  "sluice/fastify": 1.5,
  "sluice/sluice-quiet": 0.9,
  "sluice-limited/sluice": 0.75,
  "sluice-full/sluice": 0.85,
  // 10,000 routes and 10,000 API keys against 10 routes and one key, the same key check.
  "sluice-10k/sluice-apikey": 0.95,
};

const { root, scratch, run } = benchWorkspace("paired-bench");

interface Side {
  name: string;
  target: Target;
  cpuNs: number;
  load: LoadResult;
}

interface Round {
  measured: Side;
  baseline: Side;
  /** CPU µs per request of baseline / of measured: the throughput kept, alone on a core. */
  costRatio: number;
  /** req/s of measured / of baseline while sharing the core. */
  rpsRatio: number;
  busy: string;
  foreign: number;
}

await run(main);

async function main() {
  const find = (name: string) => {
    const t = TARGETS.find((x) => x.name === name);
    if (!t || name === "direct") throw new Error(`BENCH_PAIRS: ${name} is not a proxy target of targets.ts`);
    return t;
  };
  const pairs = cfg.pairs.map(([m, b]) => ({ key: `${m}/${b}`, measured: find(m), baseline: find(b) }));
  // One loader per side: each writes its output to its own directory.
  const loaders = [0, 1].map((i) => {
    const dir = join(scratch, `load-${i}`);
    mkdirSync(dir, { recursive: true });
    return pickLoader(root, dir);
  }) as [Loader, Loader];
  if (!loaders[0].name.startsWith("wrk"))
    throw new Error("the paired bench needs wrk (bash bench/proxy/install.sh)");
  const backdrop = await startBackdrop({
    root,
    scratch,
    upstream: cfg.upstream,
    redis: pairs.some((p) => p.measured.redis || p.baseline.redis),
  });
  const results = new Map<string, Round[]>(pairs.map((p) => [p.key, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    for (const pair of pairs) {
      const r = await measurePair(pair.measured, pair.baseline, round, backdrop, loaders);
      results.get(pair.key)?.push(r);
      console.error(
        `round ${round + 1} ${pair.key}: cost ×${r.costRatio.toFixed(3)} (${us(r.baseline)} / ${us(r.measured)} µs/req), ` +
          `req/s ×${r.rpsRatio.toFixed(3)} (${Math.round(r.measured.load.rps)} / ${Math.round(r.baseline.load.rps)}), ` +
          `CPU0/CPU1 ${r.busy} %, other ${r.foreign.toFixed(2)} cores`,
      );
    }
  }
  const text = report(results, loaders[0].name);
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

/** CPU µs per request of one side of a round. */
function us(s: Side): string {
  return (s.cpuNs / 1000 / Math.max(1, s.load.requests)).toFixed(1);
}

async function measurePair(
  measured: Target,
  baseline: Target,
  round: number,
  backdrop: Backdrop,
  loaders: [Loader, Loader],
): Promise<Round> {
  // Odd rounds start the baseline first (and give it the first port).
  const baselineFirst = round % 2 === 1;
  const order = baselineFirst ? [baseline, measured] : [measured, baseline];
  const started: { target: Target; proc: Proc; url: string }[] = [];
  for (const [i, target] of order.entries()) {
    const isBaseline = (i === 0) === baselineFirst;
    const name = `${target.name}-${round}-${i}`;
    const ctx = await targetContext(name, root, scratch, backdrop);
    const argv = commandOf(target, ctx, isBaseline);
    if (!argv) throw new Error(`${target.name} starts no process`);
    const proc = startProc(name, underGatewayLimit(root, name, argv), ctx.dir, PROXY_CPU);
    const url = `http://127.0.0.1:${ctx.port}${target.path ?? "/"}`;
    started.push({ target, proc, url });
  }
  try {
    for (const s of started) {
      await waitUntilAnswers(s.url, s.proc, 15_000, s.target.headers);
      const res = await httpGet(s.url, 1000, s.target.headers);
      if (res.body.toString() !== BODY)
        throw new Error(`${s.target.name} answered HTTP ${res.status} without the upstream's body`);
    }
    const both = (seconds: number) =>
      Promise.all(
        started.map((s, i) =>
          loaders[i as 0 | 1].run(s.url, cfg.conns, seconds, undefined, s.target.headers),
        ),
      );
    await both(cfg.warmup);
    const pids = started.map((s) => s.proc.child.pid ?? 0);
    const sys0 = sampleCpu(groups());
    const measuredSides =
      cfg.mode === "shared" ? await shared(pids, both) : await alternating(pids, started, loaders);
    const sys1 = sampleCpu(groups());
    const sides = started.map(
      (s, i): Side => ({
        name: s.target.name,
        target: s.target,
        ...(measuredSides[i] as { cpuNs: number; load: LoadResult }),
      }),
    );
    for (const s of sides) {
      if (s.load.errors > 0)
        throw new Error(`${s.name}: ${s.load.errors} errors (socket or non-2xx) in round ${round + 1}`);
    }
    const [m, b] = (baselineFirst ? [sides[1], sides[0]] : [sides[0], sides[1]]) as [Side, Side];
    const perReq = (s: Side) => s.cpuNs / s.load.requests;
    return {
      measured: m,
      baseline: b,
      costRatio: perReq(b) / perReq(m),
      rpsRatio: m.load.rps / b.load.rps,
      busy: busyPercent(sys0, sys1, [PROXY_CPU, LOAD_CPU]),
      foreign: foreignCores(sys0, sys1),
    };
  } finally {
    for (const s of started) await stopProc(s.proc);
  }
}

type Measured = { cpuNs: number; load: LoadResult };

/** BENCH_MODE=shared: both sides loaded at once for one window, sharing the core. */
async function shared(pids: number[], both: (seconds: number) => Promise<LoadResult[]>): Promise<Measured[]> {
  const cpu0 = pids.map(threadsCpuNs);
  const loads = await both(cfg.seconds);
  const cpu1 = pids.map(threadsCpuNs);
  return loads.map((load, i) => ({ cpuNs: (cpu1[i] ?? 0) - (cpu0[i] ?? 0), load }));
}

/**
 * The default: the sides take turns, each loaded alone for BENCH_SLICES windows adding up
 * to BENCH_DURATION s (order A B B A A B …), its CPU time counted in its own windows only.
 * Turns seconds apart see the same machine (what made run.ts's ratios swing), and neither
 * side shares the core's caches with the other while it is measured: sharing them made
 * every target's CPU per request twice what it is alone (Sluice 72 µs against 34), and the
 * one with the larger working set lose the more.
 */
async function alternating(
  pids: number[],
  started: { target: Target; url: string }[],
  loaders: [Loader, Loader],
): Promise<Measured[]> {
  const totals = started.map(() => ({
    cpuNs: 0,
    requests: 0,
    errors: 0,
    seconds: 0,
    p50: [] as number[],
    p99: [] as number[],
  }));
  // Whole seconds: wrk takes no fractions.
  const window = Math.max(1, Math.round(cfg.seconds / cfg.slices));
  for (let slice = 0; slice < cfg.slices; slice++) {
    for (const i of slice % 2 === 0 ? [0, 1] : [1, 0]) {
      const s = started[i] as { target: Target; url: string };
      const before = threadsCpuNs(pids[i] ?? 0);
      const load = await loaders[i as 0 | 1].run(s.url, cfg.conns, window, undefined, s.target.headers);
      const t = totals[i] as (typeof totals)[number];
      t.cpuNs += threadsCpuNs(pids[i] ?? 0) - before;
      t.requests += load.requests;
      t.errors += load.errors;
      t.seconds += window;
      t.p50.push(load.p50);
      t.p99.push(load.p99);
    }
  }
  return totals.map((t) => ({
    cpuNs: t.cpuNs,
    load: {
      rps: t.requests / t.seconds,
      requests: t.requests,
      errors: t.errors,
      p50: median(t.p50),
      p99: median(t.p99),
    },
  }));
}

/**
 * The target's command; the baseline side of a pair runs BENCH_BASELINE_CLI when set, so a
 * pair like sluice/sluice compares this checkout with another one (e.g. a worktree of the
 * previous commit): what a change did to the cost per request.
 */
function commandOf(target: Target, ctx: TargetContext, isBaseline: boolean): string[] | null {
  const other = env.BENCH_BASELINE_CLI;
  if (!isBaseline || !other) return target.command(ctx);
  const own = env.BENCH_SLUICE_CLI;
  env.BENCH_SLUICE_CLI = other;
  try {
    return target.command(ctx);
  } finally {
    if (own === undefined) delete env.BENCH_SLUICE_CLI;
    else env.BENCH_SLUICE_CLI = own;
  }
}

/** CPU time of every thread of a process, in ns (first field of each task's schedstat). */
function threadsCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}

function report(results: Map<string, Round[]>, loaderName: string): string {
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const lines = [
    `## ${when} UTC · paired · ${cpus().length} × ${cpuModel()} · Node ${process.version}`,
    "",
    cfg.mode === "shared"
      ? `- Method: bench/proxy/paired.ts, BENCH_MODE=shared. Both targets of a pair run at once on CPU ${PROXY_CPU}, each saturated by its own ${loaderName} (${cfg.conns} connections) on CPU ${LOAD_CPU} with the upstream (${cfg.upstream}); ${cfg.rounds} rounds, each with a fresh pair of processes, ${cfg.warmup} s warm-up (both loaded), ${cfg.seconds} s measured.`
      : `- Method: bench/proxy/paired.ts. Both targets of a pair run on CPU ${PROXY_CPU}; they take turns, each saturated alone by ${loaderName} (${cfg.conns} connections) on CPU ${LOAD_CPU} with the upstream (${cfg.upstream}) in ${cfg.slices} windows of ${Math.max(1, Math.round(cfg.seconds / cfg.slices))} s (order A B B A …); ${cfg.rounds} rounds, each with a fresh pair of processes, ${cfg.warmup} s warm-up (both loaded).`,
    cfg.mode === "shared"
      ? "- **cost ratio** = baseline's CPU µs per request / measured's. **req/s ratio**: the same pair's req/s while the kernel shares the core between them (sharing the core's caches inflates both costs, the larger working set's the more)."
      : "- **cost ratio** = baseline's CPU µs per request / measured's, each counted in its own windows: the throughput the measured target keeps. **req/s ratio**: their req/s in their windows.",
    `- Machine: Linux ${release()}. ${gatewayLimitReport(root)}`,
    ...(env.BENCH_BASELINE_CLI
      ? [`- The baseline side of every pair ran \`${env.BENCH_BASELINE_CLI}\`.`]
      : []),
    "",
    "| measured / baseline | cost ratio (median) | rounds: min – max | CPU µs/req (median) | req/s ratio (median) | target | |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const [key, rounds] of results) {
    if (rounds.length === 0) continue;
    const cost = rounds.map((r) => r.costRatio);
    const perReq = (side: "measured" | "baseline") =>
      median(rounds.map((r) => r[side].cpuNs / 1000 / r[side].load.requests)).toFixed(1);
    const bar = TARGET_RATIO[key];
    const verdict = bar === undefined ? "reported" : median(cost) >= bar ? "met" : "missed";
    lines.push(
      `| ${key} | ×${median(cost).toFixed(3)} | ${Math.min(...cost).toFixed(2)} – ${Math.max(...cost).toFixed(2)} | ` +
        `${perReq("measured")} / ${perReq("baseline")} | ×${median(rounds.map((r) => r.rpsRatio)).toFixed(3)} | ` +
        `${bar === undefined ? "" : `≥ ×${bar.toFixed(2)}`} | ${verdict} |`,
    );
  }
  lines.push("", "Every round (cost ratio):", "");
  for (const [key, rounds] of results)
    lines.push(`- ${key}: ${rounds.map((r) => r.costRatio.toFixed(3)).join(" / ")}`);
  const busy = [...results.values()].flat().filter((r) => r.foreign > 0.1);
  if (busy.length)
    lines.push(
      "",
      `Note: in ${busy.length} round(s) other processes or steal used more than 0.1 core; both sides of a pair shared that alike.`,
    );
  return `${lines.join("\n")}\n`;
}
