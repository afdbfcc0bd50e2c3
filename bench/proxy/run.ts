// Proxy benchmark: requests/s and latency p50/p99 of direct (no proxy), nginx,
// @fastify/http-proxy and Sluice, in one run, against the same upstream on the same machine.
//
//   bash bench/proxy/install.sh && node bench/proxy/run.ts
//
// Method, and why:
// - The proxy under test runs alone on core 0 (taskset -c 0; nginx with its one worker).
//   The load generator (wrk, 1 thread) and the upstream share core 1. So a proxy never
//   competes with the load for CPU, and `direct` (load generator straight to the upstream,
//   same core 1) shows the ceiling of core 1: while it is well above a proxy's number, that
//   number is the proxy's own limit. The CPU0/1 busy column says which side was the limit,
//   and the report warns when a proxy gets within 80 % of direct.
// - Upstream: nginx returning a fixed 100-byte body (BENCH_UPSTREAM=nginx, the default) or
//   a node:http server doing the same (BENCH_UPSTREAM=node). Measured on a 2-vCPU EPYC:
//   direct gets ~65k req/s from nginx and ~23k from node:http. The node upstream also held
//   fastify back, with CPU 1 at 98 %.
// - Every target is started and checked (it answers with the upstream's body) first, then
//   warmed up (JIT, connection pools); then BENCH_REPEAT rounds, each one saturation run of
//   every target in turn (interleaved, so a slow minute of the machine hits all targets,
//   not one; the median run by req/s is reported; ratios between targets are given as the
//   median of per-round ratios, the ratio of medians and the ratio of best runs — see
//   report.ts for why), then a half-load run of each at half
//   its rate; then all stop.
// - Half load: wrk2 -R when installed, else wrk with pace.lua (each connection paced so the
//   total is half the saturation rate). Not "fewer connections": with -c 4, fastify and
//   Sluice still kept core 0 at 99 %, so that is saturation with a shorter queue, not half load.
// - The machine may be shared (another session's test suite, the hypervisor): the bench waits
//   for idle cores before each target, measures the CPU other processes (and steal) used
//   during each run, repeats runs where it was above 0.1 core, and notes the ones it kept.
// - A target whose command fails or never answers is skipped with its log; the rest go on.
//
// Env: BENCH_TARGETS=direct,nginx,fastify,minimal-undici,sluice,sluice-quiet,sluice-traced,sluice-10k,sluice-node-http
//      BENCH_DURATION=10 (s per run)
//      BENCH_WARMUP=2 (s)  BENCH_REPEAT=1  BENCH_CONNECTIONS=50  BENCH_UPSTREAM=nginx|node
//      BENCH_HALF_LOAD=1 (0: skip)  BENCH_OUT=docs/benchmarks.md ("-": stdout only)
//      BENCH_KEEP=1 (keep the scratch dir with configs and logs)
//      BENCH_QUIET_WAIT=60 (s to wait for idle CPUs before each target; noted when exceeded)
//      BENCH_RETRIES=2 (repeats of a run that other processes shared; see measure())
//      BENCH_SLUICE_CLI=cli/sluice.ts (the Sluice entry point to run)
//      BENCH_LOADER=autocannon (use the fallback load generator even when wrk is installed)
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../test-support/index.ts";
import { startBackdrop } from "./backdrop.ts";
import { busyPercent, cpuModel, foreignCores, sampleCpu } from "./cpu.ts";
import { LOAD_CPU, type LoadResult, pickLoader } from "./load.ts";
import {
  benchWorkspace,
  cpusAllowed,
  groups,
  hasTaskset,
  httpGet,
  startProc,
  stopProc,
  waitUntilAnswers,
} from "./procs.ts";
import { type Row, section, writeMarkdown } from "./report.ts";
import { TARGETS, type TargetContext } from "./targets.ts";
import { BODY } from "./upstream.ts";

const PROXY_CPU = "0";
const CPUS = [PROXY_CPU, LOAD_CPU];
/** Above this much CPU (in cores) used by other processes during a run, the run is repeated. */
const FOREIGN_MAX = 0.1;
const env = process.env;
const cfg = {
  targets: (
    env.BENCH_TARGETS ??
    "direct,nginx,fastify,minimal-undici,sluice,sluice-quiet,sluice-traced,sluice-limited,sluice-apikey,sluice-full,sluice-10k,sluice-node-http"
  )
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
  seconds: Number(env.BENCH_DURATION ?? 10),
  warmup: Number(env.BENCH_WARMUP ?? 2),
  repeat: Number(env.BENCH_REPEAT ?? 1),
  conns: Number(env.BENCH_CONNECTIONS ?? 50),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  halfLoad: env.BENCH_HALF_LOAD !== "0",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
  quietWait: Number(env.BENCH_QUIET_WAIT ?? 60),
  retries: Number(env.BENCH_RETRIES ?? 2),
};

const { root, scratch, run } = benchWorkspace("proxy-bench");

await run(main);

async function main() {
  const unknown = cfg.targets.filter((t) => !TARGETS.some((x) => x.name === t));
  if (unknown.length) throw new Error(`unknown target(s) ${unknown}; known: ${TARGETS.map((t) => t.name)}`);
  const notes: string[] = [];
  if (!hasTaskset)
    notes.push("taskset not found: nothing was pinned, so these numbers mix proxy and load CPU");
  const idleBusy = await waitForQuiet("the run", notes);

  const loader = pickLoader(root, scratch);
  const backdrop = await startBackdrop({
    root,
    scratch,
    upstream: cfg.upstream,
    redis: cfg.targets.some((t) => TARGETS.find((x) => x.name === t)?.redis),
  });
  const { upstream, otlpEndpoint, redis } = backdrop;
  const upCpus = backdrop.upstreamCpus;
  console.error(
    `upstream (${cfg.upstream}) on ${upstream.url}, pinned to CPUs ${upCpus}; load: ${loader.name}`,
  );
  /** EVALSHA calls and socket reads Redis counted so far (INFO commandstats / stats). */
  const redisCounters = () => {
    const text = `${redis?.cli("INFO", "commandstats")}\n${redis?.cli("INFO", "stats")}`;
    return {
      calls: Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(text)?.[1] ?? 0),
      reads: Number(/^total_reads_processed:(\d+)/m.exec(text)?.[1] ?? 0),
    };
  };

  // Every target is started first and stays up (idle when not loaded), then the runs
  // are interleaved — round 1 of every target, then round 2, … — so a neighbour slowing
  // the machine down for a minute weighs on every target alike instead of on one, and the
  // ratios between targets stay meaningful.
  interface Live {
    name: string;
    target: (typeof TARGETS)[number];
    row: Row;
    url: string;
    proc: ReturnType<typeof startProc> | null;
    runs: Measured[];
    seen: { calls: number; reads: number; requests: number };
  }
  const rows: Row[] = [];
  const live: Live[] = [];
  for (const name of cfg.targets) {
    const target = TARGETS.find((t) => t.name === name);
    if (!target) continue;
    const row: Row = { target: name, about: target.about };
    rows.push(row);
    const ctx: TargetContext = {
      root,
      dir: join(scratch, name),
      upstream,
      port: await freePort(),
      adminPort: await freePort(),
      otlpEndpoint,
      redisUrl: redis?.url ?? "",
    };
    mkdirSync(ctx.dir, { recursive: true });
    const argv = target.command(ctx);
    const proc = argv ? startProc(name, argv, ctx.dir, PROXY_CPU) : null;
    const path = target.path ?? "/";
    const url = proc ? `http://127.0.0.1:${ctx.port}${path}` : `${upstream.url}${path}`;
    try {
      if (proc) {
        await waitUntilAnswers(url, proc, 15_000, target.headers);
        // A proxy answering something else (its own 404, an error page) would bench that.
        const res = await httpGet(url, 1000, target.headers);
        if (res.body.toString() !== BODY)
          throw new Error(`answered HTTP ${res.status} without the upstream's body`);
      }
      row.cpus = proc ? cpusAllowed(proc.child.pid) : upCpus;
      console.error(`${name}: ${argv ? argv.join(" ") : "(no proxy)"}; CPUs ${row.cpus}`);
    } catch (err) {
      row.skipped = `\`${argv?.join(" ")}\` did not start: ${firstLine((err as Error).message)}`;
      console.error(`${name}: SKIPPED, ${(err as Error).message}\n`);
      if (proc) await stopProc(proc);
      continue;
    }
    live.push({ name, target, row, url, proc, runs: [], seen: { calls: 0, reads: 0, requests: 0 } });
  }

  for (const l of live) {
    await waitForQuiet(l.name, notes);
    if (cfg.warmup > 0) await loader.run(l.url, cfg.conns, cfg.warmup, undefined, l.target.headers);
  }
  for (let i = 0; i < cfg.repeat; i++) {
    for (const l of live) {
      // Redis commands and socket reads per request, over every saturation run (retries too).
      const saturate = async () => {
        const before = l.target.redis ? redisCounters() : undefined;
        const r = await loader.run(l.url, cfg.conns, cfg.seconds, undefined, l.target.headers);
        if (before) {
          const after = redisCounters();
          l.seen.calls += after.calls - before.calls;
          l.seen.reads += after.reads - before.reads;
          l.seen.requests += r.requests;
        }
        return r;
      };
      l.runs.push(await measure(`${l.name} run ${i + 1}`, saturate, notes));
    }
  }
  for (const l of live) {
    const { name, target, row, runs, seen } = l;
    if (target.redis && seen.requests > 0) {
      notes.push(
        `${name}: Redis counted ${(seen.calls / seen.requests).toFixed(2)} EVALSHA calls and ` +
          `${(seen.reads / seen.requests).toFixed(2)} socket reads (round trips) per request at saturation (INFO commandstats / stats)`,
      );
    }
    row.runs = runs.map((r) => r.rps);
    const median = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
    row.sat = median;
    row.busy = median?.busy;
    if (cfg.halfLoad && median) {
      const rate = median.rps / 2;
      row.half = await measure(
        `${name} half load`,
        () => loader.run(l.url, cfg.conns, cfg.seconds, rate, target.headers),
        notes,
      );
    }
    if ((row.sat?.errors ?? 0) > 0)
      notes.push(`${name} had ${row.sat?.errors} errors (socket or non-2xx) in its run`);
  }
  for (const l of live) if (l.proc) await stopProc(l.proc);

  if (cfg.targets.includes("sluice-traced"))
    notes.push(`sluice-traced: the OTLP receiver got ${backdrop.spansReceived()} export requests`);

  // The ceiling check the method depends on: direct must stay well above every proxy.
  const direct = rows.find((r) => r.target === "direct")?.sat?.rps;
  for (const r of rows) {
    if (direct && r.target !== "direct" && r.sat && r.sat.rps > 0.8 * direct) {
      notes.push(
        `${r.target} reached ${Math.round((100 * r.sat.rps) / direct)}% of direct: the upstream/load core may be limiting it`,
      );
    }
  }

  const text = section(
    {
      heading: `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · ${cpus().length} × ${cpuModel()} · Node ${process.version} · ${nginxVersion()}`,
      lines: [
        `Machine: ${cpus().length} CPUs (${cpuModel()}), Linux ${release()}; CPU0/CPU1 busy % in 1 s before the run: ${idleBusy} (the bench waits up to ${cfg.quietWait} s for ≤ 10 %)`,
        `Load: ${loader.name}, ${cfg.conns} connections, ${cfg.seconds} s per run after a ${cfg.warmup} s warm-up, ` +
          `${cfg.repeat} run(s) per target${cfg.repeat > 1 ? " (median by req/s shown, every run in brackets)" : ""}`,
        `Upstream: ${cfg.upstream === "nginx" ? "nginx, 1 worker" : "node:http"} returning a fixed 100-byte body, keep-alive`,
        `Pinning${hasTaskset ? " (taskset, read back from /proc/PID/status)" : ": none"}: target on CPU ${PROXY_CPU}, ` +
          `load generator and upstream on CPU ${LOAD_CPU} (upstream read back: ${upCpus})`,
      ],
      halfLoadMethod: loader.halfLoadMethod,
      notes,
    },
    rows,
  );
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

/**
 * Another process using a core (a test suite, a build) would be measured as part of a proxy
 * or of the load side: wait up to BENCH_QUIET_WAIT s for both cores to be idle (≤ 10 % busy
 * over 1 s), and note it in the report when they never were. Returns the last sample.
 */
async function waitForQuiet(what: string, notes: string[]): Promise<string> {
  const deadline = Date.now() + cfg.quietWait * 1000;
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

type Measured = LoadResult & { busy: string; foreign: number };

/**
 * One load run with the CPU accounting around it. When other processes used more than
 * FOREIGN_MAX cores meanwhile, the run measured them too: wait for quiet and repeat it
 * (BENCH_RETRIES times at most, then keep it with a note).
 */
async function measure(what: string, run: () => Promise<LoadResult>, notes: string[]): Promise<Measured> {
  for (let attempt = 0; ; attempt++) {
    const a = sampleCpu(groups());
    const r = await run();
    const b = sampleCpu(groups());
    const m = { ...r, busy: busyPercent(a, b, CPUS), foreign: foreignCores(a, b) };
    const other = `other processes/steal ${m.foreign.toFixed(2)} cores`;
    console.error(`${what}: ${fmt(r)}, errors ${r.errors}, CPU0/CPU1 busy ${m.busy} %, ${other}`);
    if (m.foreign <= FOREIGN_MAX) return m;
    if (attempt >= cfg.retries) {
      notes.push(`${what}: ${other} used meanwhile (kept after ${attempt} retries): its numbers may be low`);
      return m;
    }
    console.error(`${what}: repeating, ${other} shared the machine`);
    await waitForQuiet(what, []);
  }
}

function fmt(r: LoadResult): string {
  return `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`;
}

/** One line for the report: the first line and the first error line of the log after it. */
function firstLine(s: string): string {
  const [head = "", ...log] = s.split("\n");
  const why = log.find((l) => /error/i.test(l)) ?? log.at(-1) ?? "";
  return `${head} ${why.trim()}`.slice(0, 300);
}

function nginxVersion(): string {
  // nginx -v prints to stderr
  const r = spawnSync("nginx", ["-v"], { encoding: "utf8" });
  return r.error ? "nginx not installed" : r.stderr.replace("nginx version: ", "").trim();
}
