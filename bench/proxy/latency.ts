// Open-loop latency benchmark: p50/p90/p99/p99.9/max of direct (no proxy), nginx,
// minimal-undici, @fastify/http-proxy and Sluice, each at half of its own saturation rate,
// measured without coordinated omission.
//
//   bash bench/proxy/install.sh && node bench/proxy/latency.ts
//
// Method, and why:
// - Open loop: vegeta sends requests on a fixed schedule whether or not earlier ones were
//   answered, so a stall of the target (a GC pause, a slow event-loop turn) shows as the
//   latency of every request due meanwhile. wrk, closed loop, waits for each answer before the
//   next request: during a stall it sends nothing, and the stall is one slow request among
//   few — coordinated omission. run.ts's saturation latencies (and the half-load columns of
//   older sections of docs/benchmarks.md, wrk paced by a script) are closed loop for that
//   reason, and are no latency measurement. vegeta's settings are explained in vegeta.ts.
// - At 50 % of each target's own saturation rate, so that every target is at the same
//   relative load: a Node proxy at nginx's rate would be saturated, and its latency would be
//   queueing. The saturation rate is found open loop (open-loop-saturation.ts: the highest
//   constant rate vegeta sees it keep up with, searched from half of a short wrk run's rate),
//   since wrk's closed-loop figure overstates what a Node proxy sustains at constant
//   arrivals; or it comes from BENCH_RATES.
// - Pinning as in run.ts: the target alone on core 0, vegeta and the upstream on core 1.
// - The generator's floor: vegeta costs far more CPU per request than wrk, and the load core
//   also runs the upstream. So in every round, right after each target, `direct` (vegeta
//   straight to the upstream) is attacked at that target's rate: its p99 is what vegeta and the
//   upstream add at that rate, and the report warns when it is more than half the target's.
//   It also warns when vegeta sent below 95 % of the rate asked (it could not keep up).
// - nginx at sluice's rate: on a 2-core machine vegeta (~40 µs of CPU per request, sharing
//   its core with the upstream) cannot send half of nginx's saturation rate, so nginx's own
//   row measures the generator. nginx is then also attacked at sluice's rate, each round, and
//   Sluice is judged against that: a stricter bar, since nginx's p99 grows with its rate.
// - Every target is started and checked first (live-target.ts), then warmed up and its rate
//   set; then BENCH_REPEAT rounds, each one attack of every target in turn (interleaved like
//   run.ts, so a slow minute of the machine weighs on all targets alike); each column of the
//   table is the median over the rounds of that figure. Runs that other processes shared are
//   repeated (shared-machine.ts).
// - The first BENCH_SETTLE seconds of each attack are sent but left out: vegeta's start
//   (runtime, opening its connections) is not the target's latency.
// - Core 0 is not kept awake unless BENCH_WAKE=1: a spinner at SCHED_IDLE on it, which runs
//   only when nothing else wants core 0. It was the default until 2026-12-07, when an idle
//   vCPU here seemed to take milliseconds to wake (minimal-undici at 3,000 req/s: p99
//   11.5 ms without it, 2.6 ms with it, in an earlier session). Measured again on 2026-12-07, the
//   spinner made every target's tail worse instead: without it nginx at half load had a p99
//   of 1.9 ms (3.8 with it), Sluice 13.7 ms (49), minimal-undici 4.2 ms (19.9), and
//   minimal-undici at 3,000 req/s 0.9 – 2.4 ms. A pod's core has no spinner either.
//
// Env: BENCH_TARGETS=direct,nginx,minimal-undici,fastify,sluice (names from targets.ts)
//      BENCH_DURATION=30 (s measured per attack)  BENCH_SETTLE=1 (s left out before)
//      BENCH_REPEAT=3 (rounds)  BENCH_WARMUP=2 (s of wrk before the saturation run)
//      BENCH_SATURATION_DURATION=5 (s of the wrk run the search starts from, and of each
//        probe of the open-loop search)
//      BENCH_RATES=nginx=100000,sluice=18000 (saturation req/s to use instead of measuring)
//      BENCH_CONNECTIONS=50 (wrk's connections and vegeta's pool)  BENCH_UPSTREAM=nginx|node
//      BENCH_FLOOR=1 (0: skip the direct attacks at each target's rate)
//      BENCH_WAKE=0 (1: a SCHED_IDLE spinner keeps core 0 awake during the probes and attacks)
//      BENCH_OUT=docs/benchmarks.md ("-": stdout only)  BENCH_KEEP=1
//      BENCH_QUIET_WAIT=60, BENCH_RETRIES=2 (see shared-machine.ts)
import { cpus, release } from "node:os";
import { join } from "node:path";
import { gatewayLimitReport } from "../memory-limit.ts";
import { startBackdrop } from "./backdrop.ts";
import { cpuModel } from "./cpu.ts";
import { type LatencyRow, latencySection, NGINX_AT_SLUICE_RATE, type Run } from "./latency-report.ts";
import { type LiveTarget, PROXY_CPU, startTarget, targetsNamed } from "./live-target.ts";
import { LOAD_CPU, type LoadResult, pickLoader } from "./load.ts";
import { findSaturation, P99_LIMIT_MS, SENT_SHARE, SUCCESS_SHARE } from "./open-loop-saturation.ts";
import { benchWorkspace, hasTaskset, startProc, stopProc } from "./procs.ts";
import { machineHeading, writeMarkdown } from "./report.ts";
import { measure, QUIET_WAIT_S, waitForQuiet } from "./shared-machine.ts";
import { attack, buildVegeta, type Vegeta } from "./vegeta.ts";
import type { OpenLoopSummary } from "./vegeta-results.ts";

/** Each target is attacked at this share of its saturation rate. */
const LOAD_SHARE = 0.5;
const env = process.env;
const cfg = {
  targets: targetsNamed(env.BENCH_TARGETS ?? "direct,nginx,minimal-undici,fastify,sluice"),
  seconds: Number(env.BENCH_DURATION ?? 30),
  settle: Number(env.BENCH_SETTLE ?? 1),
  repeat: Number(env.BENCH_REPEAT ?? 3),
  warmup: Number(env.BENCH_WARMUP ?? 2),
  saturationSeconds: Number(env.BENCH_SATURATION_DURATION ?? 5),
  rates: parseRates(env.BENCH_RATES ?? ""),
  conns: Number(env.BENCH_CONNECTIONS ?? 50),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  floor: env.BENCH_FLOOR !== "0",
  wake: env.BENCH_WAKE === "1",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
};

const { root, scratch, run } = benchWorkspace("latency-bench");

await run(main);

/**
 * A SCHED_IDLE spinner on the target's core for the attacks (see the header). Its own
 * process group: counted as the bench's, not as another process sharing the core.
 */
function keepCoreAwake() {
  return startProc(
    "core0-awake",
    ["chrt", "--idle", "0", "sh", "-c", "while :; do :; done"],
    scratch,
    PROXY_CPU,
  );
}

async function main() {
  const notes: string[] = [];
  if (!hasTaskset)
    notes.push("taskset not found: nothing was pinned, so these numbers mix proxy and load CPU");
  const vegeta = buildVegeta(root);
  const idleBusy = await waitForQuiet("the run", notes);
  const loader = pickLoader(root, scratch);
  const backdrop = await startBackdrop({
    root,
    scratch,
    upstream: cfg.upstream,
    redis: cfg.targets.some((t) => t.redis),
  });
  console.error(`upstream (${cfg.upstream}) on ${backdrop.upstream.url}; load: ${vegeta.name}`);

  interface Live extends LiveTarget {
    row: LatencyRow;
    rate: number;
  }
  const rows: LatencyRow[] = [];
  const live: Live[] = [];
  let direct: LiveTarget | undefined;
  for (const target of cfg.targets) {
    const row: LatencyRow = { target: target.name, about: target.about, runs: [], floors: [] };
    rows.push(row);
    const started = await startTarget(target, root, scratch, backdrop);
    if ("skipped" in started) {
      row.skipped = started.skipped;
      continue;
    }
    row.cpus = started.live.cpus;
    live.push({ ...started.live, row, rate: 0 });
    if (target.name === "direct") direct = started.live;
  }
  if (cfg.floor && !direct) {
    const [target] = targetsNamed("direct");
    const started = target && (await startTarget(target, root, scratch, backdrop));
    if (started && "live" in started) direct = started.live;
  }

  for (const l of live) {
    await waitForQuiet(l.name, notes);
    if (cfg.warmup > 0) await loader.run(l.url, cfg.conns, cfg.warmup, undefined, l.target.headers);
    const given = cfg.rates.get(l.name);
    let saturation = given;
    if (saturation === undefined) {
      const closed = await measure(
        `${l.name} closed-loop saturation`,
        () => loader.run(l.url, cfg.conns, cfg.saturationSeconds, undefined, l.target.headers),
        (r: LoadResult) => `${r.rps.toFixed(0)} req/s, errors ${r.errors}`,
        notes,
      );
      // Awake for the probes as for the attacks, and only then: waitForQuiet reads core 0.
      const searchWaker = cfg.wake ? keepCoreAwake() : undefined;
      const found = await findSaturation(closed.rps / 2, async (rate) => {
        const r = await attack(
          vegeta,
          {
            url: l.url,
            rate,
            seconds: cfg.saturationSeconds,
            settleSeconds: cfg.settle,
            conns: cfg.conns,
            ...(l.target.headers ? { headers: l.target.headers } : {}),
          },
          join(scratch, `${l.name}-search`),
        );
        console.error(`  ${l.name} search: ${describe(rate, r)}`);
        return { rate, sent: r.rate, success: r.success, p99: r.p99 };
      });
      if (searchWaker) await stopProc(searchWaker);
      saturation = found.rate;
      l.row.saturationFrom = found.generatorBound ? "open loop, vegeta-bound" : "open loop";
      notes.push(
        `${l.name}: wrk (closed loop) ${closed.rps.toFixed(0)} req/s; open-loop saturation ${found.rate} req/s ` +
          `(${found.probes.map((p) => `${p.rate}: ${p.verdict}`).join(", ")})`,
      );
    } else l.row.saturationFrom = "BENCH_RATES";
    l.row.saturation = saturation;
    l.rate = saturation * LOAD_SHARE;
    l.row.rate = l.rate;
  }

  const openLoop = (what: string, target: LiveTarget, rate: number): Promise<Run> =>
    measure(
      what,
      () =>
        attack(
          vegeta,
          {
            url: target.url,
            rate,
            seconds: cfg.seconds,
            settleSeconds: cfg.settle,
            conns: cfg.conns,
            ...(target.target.headers ? { headers: target.target.headers } : {}),
          },
          join(scratch, target.name),
        ),
      (r) => describe(rate, r),
      notes,
    );
  const nginx = live.find((l) => l.name === "nginx");
  const sluice = live.find((l) => l.name === "sluice");
  const nginxAtSluiceRate: LatencyRow | undefined =
    nginx && sluice
      ? {
          target: NGINX_AT_SLUICE_RATE,
          about: "nginx attacked at sluice's rate: the bar for sluice when vegeta cannot reach nginx's own",
          rate: sluice.rate,
          runs: [],
          floors: sluice.row.floors, // the same rate in the same round
          cpus: nginx.cpus,
        }
      : undefined;
  if (nginxAtSluiceRate) rows.push(nginxAtSluiceRate);
  const waker = cfg.wake ? keepCoreAwake() : undefined;
  for (let i = 0; i < cfg.repeat; i++) {
    for (const l of live) {
      l.row.runs.push(await openLoop(`${l.name} round ${i + 1}`, l, l.rate));
      if (direct && l.name !== "direct")
        l.row.floors.push(await openLoop(`direct at ${l.name}'s rate, round ${i + 1}`, direct, l.rate));
      if (nginxAtSluiceRate && nginx && l === sluice)
        nginxAtSluiceRate.runs.push(await openLoop(`${NGINX_AT_SLUICE_RATE}, round ${i + 1}`, nginx, l.rate));
    }
  }
  if (waker) await stopProc(waker);
  for (const l of live) if (l.proc) await stopProc(l.proc);

  const text = latencySection(
    {
      heading: machineHeading("open-loop latency"),
      lines: setupLines(vegeta, idleBusy, backdrop.upstreamCpus, loader.name),
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

function setupLines(vegeta: Vegeta, idleBusy: string, upCpus: string, wrk: string): string[] {
  return [
    `Method: bench/proxy/latency.ts. Open loop: ${vegeta.name} sends at a fixed rate of ${100 * LOAD_SHARE} % of each target's saturation rate, ` +
      `whatever the answers; keep-alive pool of ${cfg.conns} connections, no cap on vegeta's workers`,
    `Saturation, found open loop unless BENCH_RATES gave it: from half of ${wrk}'s closed-loop rate (${cfg.conns} connections, ${cfg.saturationSeconds} s after a ${cfg.warmup} s warm-up), ` +
      `${cfg.saturationSeconds} s vegeta probes rising ×1.25 then bisected 3 times; a rate is kept up with when vegeta sent ≥ ${100 * SENT_SHARE} % of it, ` +
      `≥ ${100 * SUCCESS_SHARE} % succeeded and p99 ≤ ${P99_LIMIT_MS} ms (open-loop-saturation.ts)`,
    `${cfg.seconds} s measured per attack after ${cfg.settle} s left out; ${cfg.repeat} round(s) interleaved across targets; ` +
      "every column is the median over the rounds; latency percentiles are exact (nearest rank over every request)",
    cfg.floor
      ? "floor: `direct` (vegeta straight to the upstream) attacked at the same rate right after the target in each round: what the generator and upstream add"
      : "floor: not measured (BENCH_FLOOR=0)",
    `Machine: ${cpus().length} CPUs (${cpuModel()}), Linux ${release()}; CPU0/CPU1 busy % in 1 s before the run: ${idleBusy} (the bench waits up to ${QUIET_WAIT_S} s for ≤ 10 %)`,
    gatewayLimitReport(root),
    `Upstream: ${cfg.upstream === "nginx" ? "nginx, 1 worker" : "node:http"} returning a fixed 100-byte body, keep-alive`,
    `Pinning${hasTaskset ? " (taskset, read back from /proc/PID/status)" : ": none"}: target on CPU ${PROXY_CPU}, ` +
      `vegeta and the upstream on CPU ${LOAD_CPU} (upstream read back: ${upCpus}); the busy column has one CPU0/CPU1 pair per round`,
    cfg.wake
      ? `CPU ${PROXY_CPU} kept awake during the attacks by a SCHED_IDLE spinner (BENCH_WAKE=1), so its busy % reads ~100`
      : `CPU ${PROXY_CPU} not kept awake (no spinner, as in a pod; see latency.ts): tails include the VM's vCPU wake-ups`,
  ];
}

function describe(rate: number, r: OpenLoopSummary): string {
  const f = (v: number) => v.toFixed(2);
  return (
    `asked ${rate.toFixed(0)} req/s, sent ${r.rate.toFixed(0)}, p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms, ` +
    `p99.9 ${f(r.p999)} ms, max ${f(r.max)} ms, success ${(100 * r.success).toFixed(2)} %`
  );
}

/** "nginx=100000,sluice=18000" → saturation req/s by target name. */
function parseRates(text: string): Map<string, number> {
  const rates = new Map<string, number>();
  for (const pair of text.split(",").filter((s) => s.trim())) {
    const [name = "", value = ""] = pair.split("=").map((s) => s.trim());
    const rate = Number(value);
    if (!name || !(rate > 0)) throw new Error(`BENCH_RATES: "${pair}" is not <target>=<req/s>`);
    rates.set(name, rate);
  }
  return rates;
}
