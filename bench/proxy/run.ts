// Proxy benchmark: requests/s at saturation of direct (no proxy), nginx, @fastify/http-proxy,
// minimal-undici and Sluice, in one run, against the same upstream on the same machine.
//
//   bash bench/proxy/install.sh && node bench/proxy/run.ts
//
// Latency is measured by latency.ts, open loop at half of each target's saturation rate. The
// p50/p99 columns here are those of the saturation runs: wrk is closed loop (a connection
// sends its next request only after the last answer), so they are queueing time at full load,
// not a latency measurement. The half-load columns of older sections of docs/benchmarks.md
// were closed loop too (wrk paced by a Lua script) and are superseded by latency.ts.
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
//   report.ts for why); then all stop.
// - The machine may be shared: see shared-machine.ts for how runs that other processes
//   shared are repeated or noted.
// - A target whose command fails or never answers is skipped with its log; the rest go on.
//
// Env: BENCH_TARGETS=direct,nginx,fastify,minimal-undici,sluice,sluice-quiet,sluice-traced,sluice-10k
//      BENCH_DURATION=10 (s per run)
//      BENCH_WARMUP=2 (s)  BENCH_REPEAT=1  BENCH_CONNECTIONS=50  BENCH_UPSTREAM=nginx|node
//      BENCH_OUT=docs/benchmarks.md ("-": stdout only)
//      BENCH_KEEP=1 (keep the scratch dir with configs and logs)
//      BENCH_QUIET_WAIT=60, BENCH_RETRIES=2 (see shared-machine.ts)
//      BENCH_SLUICE_CLI=cli/sluice.ts (the Sluice entry point to run; default: the built
//        JavaScript the image runs, targets.ts sluiceCommand)
//      BENCH_LOADER=autocannon (use the fallback load generator even when wrk is installed)
import { cpus, release } from "node:os";
import { gatewayLimitReport } from "../memory-limit.ts";
import { startBackdrop } from "./backdrop.ts";
import { cpuModel } from "./cpu.ts";
import { type LiveTarget, PROXY_CPU, startTarget, targetsNamed } from "./live-target.ts";
import { LOAD_CPU, type LoadResult, pickLoader } from "./load.ts";
import { benchWorkspace, hasTaskset, stopProc } from "./procs.ts";
import { machineHeading, type Row, section, writeMarkdown } from "./report.ts";
import { type Measured, measure, QUIET_WAIT_S, waitForQuiet } from "./shared-machine.ts";

const env = process.env;
const cfg = {
  targets: targetsNamed(
    env.BENCH_TARGETS ??
      "direct,nginx,fastify,minimal-undici,sluice,sluice-quiet,sluice-traced,sluice-limited,sluice-apikey,sluice-full,sluice-10k",
  ),
  seconds: Number(env.BENCH_DURATION ?? 10),
  warmup: Number(env.BENCH_WARMUP ?? 2),
  repeat: Number(env.BENCH_REPEAT ?? 1),
  conns: Number(env.BENCH_CONNECTIONS ?? 50),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
};

const { root, scratch, run } = benchWorkspace("proxy-bench");

await run(main);

async function main() {
  const notes: string[] = [];
  if (!hasTaskset)
    notes.push("taskset not found: nothing was pinned, so these numbers mix proxy and load CPU");
  const idleBusy = await waitForQuiet("the run", notes);

  const loader = pickLoader(root, scratch);
  const backdrop = await startBackdrop({
    root,
    scratch,
    upstream: cfg.upstream,
    redis: cfg.targets.some((t) => t.redis),
  });
  const { upstream, redis } = backdrop;
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
  interface Live extends LiveTarget {
    row: Row;
    runs: Measured<LoadResult>[];
    seen: { calls: number; reads: number; requests: number };
  }
  const rows: Row[] = [];
  const live: Live[] = [];
  for (const target of cfg.targets) {
    const row: Row = { target: target.name, about: target.about };
    rows.push(row);
    const started = await startTarget(target, root, scratch, backdrop);
    if ("skipped" in started) {
      row.skipped = started.skipped;
      continue;
    }
    row.cpus = started.live.cpus;
    live.push({ ...started.live, row, runs: [], seen: { calls: 0, reads: 0, requests: 0 } });
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
      l.runs.push(await measure(`${l.name} run ${i + 1}`, saturate, describe, notes));
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
    if ((row.sat?.errors ?? 0) > 0)
      notes.push(`${name} had ${row.sat?.errors} errors (socket or non-2xx) in its run`);
  }
  for (const l of live) if (l.proc) await stopProc(l.proc);

  if (cfg.targets.some((t) => t.name === "sluice-traced"))
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
      heading: machineHeading(),
      lines: [
        `Machine: ${cpus().length} CPUs (${cpuModel()}), Linux ${release()}; CPU0/CPU1 busy % in 1 s before the run: ${idleBusy} (the bench waits up to ${QUIET_WAIT_S} s for ≤ 10 %)`,
        `Load: ${loader.name}, ${cfg.conns} connections, ${cfg.seconds} s per run after a ${cfg.warmup} s warm-up, ` +
          `${cfg.repeat} run(s) per target${cfg.repeat > 1 ? " (median by req/s shown, every run in brackets)" : ""}`,
        `Upstream: ${cfg.upstream === "nginx" ? "nginx, 1 worker" : "node:http"} returning a fixed 100-byte body, keep-alive`,
        `Pinning${hasTaskset ? " (taskset, read back from /proc/PID/status)" : ": none"}: target on CPU ${PROXY_CPU}, ` +
          `load generator and upstream on CPU ${LOAD_CPU} (upstream read back: ${upCpus})`,
        gatewayLimitReport(root),
      ],
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

function describe(r: LoadResult): string {
  return `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}`;
}
