// Workers bench: what `--workers 2` gives over `--workers 1` (ADR 0005), measured honestly
// on a machine that has no 2 cores to give the gateway alone.
//
//   node bench/proxy/workers.ts
//
// The machine has 2 vCPUs, so the load generator (wrk) and the upstream (nginx) take CPU from
// the cores a second worker would use: a req/s comparison alone measures how the kernel
// shares the machine, not how the workers scale. Two figures:
// 1. CPU per request of the whole gateway — the primary and every worker (its children,
//    /proc/PID/task/*/children), every thread of each (/proc/PID/task/*/schedstat, ns) — at
//    saturation. At saturation req/s = cores / CPU per request, so 2 × cost(1 worker) /
//    cost(2 workers) is what 2 workers serve with a core each and the load elsewhere (a pod
//    with a limit of 2): a projection from CPU per request, not a measurement. Measured as
//    paired.ts measures a cost: the 1-worker and the 2-worker gateway at once, both pinned
//    to CPU 0, each saturated by its own wrk on CPU 1, so both meet the core at the same
//    speed. It moves between runs: one after the other, one worker's CPU per request ranged
//    from 30 to 59 µs in windows nothing else shared (2026-12-07), and the projection from
//    ×1.5 to ×2.6 per round. What pairing costs: the two workers take turns on the one core,
//    which a core each would not. The report splits the 2 workers' CPU into the primary's
//    and the workers' own, and gives the projection from the alone runs of figure 2 too.
// 2. req/s, measured: each gateway alone, unpinned (taskset -c 0,1: its stdout still a pipe,
//    as in a pod), the load where every bench puts it, on CPU 1 — so the one worker has a
//    core without the load (the most one process can use) and a second worker takes what it
//    can of the load's core. What the kernel's sharing of the 2 cores leaves the workers.
//    (With nothing pinned, the load included, ADR 0005 measured ×1.23.)
// - Every run starts fresh gateways (`sluice` target of targets.ts: 10 routes, metrics and
//   access log on), warms them up long (a fresh gateway kept getting faster for over 10 s,
//   see paired.ts), then measures one window. A round is one paired run and one alone run of
//   each count, 2 workers first in odd rounds; each ratio is of one
//   round's runs.
// - Each worker must get a share of the connections: the report gives each worker's share of
//   the workers' CPU and its open connections (the primary's /status) during the window.
// - The machine may be shared: each run waits for idle CPUs and repeats a window that other
//   processes shared (shared-machine.ts); a round with a window kept anyway is left out of
//   the figures and run again (up to 2 × BENCH_ROUNDS rounds), and the report marks it.
//
// Env: BENCH_ROUNDS=5  BENCH_DURATION=8 (s measured)  BENCH_WARMUP=15 (s)
//      BENCH_CONNECTIONS=64  BENCH_UPSTREAM=nginx|node  BENCH_TARGET=sluice (a Sluice target)
//      BENCH_OUT=docs/benchmarks.md ("-": stdout only)  BENCH_KEEP=1
//      BENCH_QUIET_WAIT=60, BENCH_RETRIES=2 (see shared-machine.ts)
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../test-support/index.ts";
import { gatewayLimitReport, underGatewayLimit } from "../memory-limit.ts";
import { type Backdrop, startBackdrop } from "./backdrop.ts";
import { PROXY_CPU, targetsNamed } from "./live-target.ts";
import { LOAD_CPU, type Loader, type LoadResult, pickLoader } from "./load.ts";
import {
  benchWorkspace,
  cpusAllowed,
  httpGet,
  type Proc,
  startProc,
  stopProc,
  waitUntilAnswers,
} from "./procs.ts";
import { int, machineHeading, median, table, writeMarkdown } from "./report.ts";
import { measure, waitForQuiet } from "./shared-machine.ts";
import type { Target, TargetContext } from "./targets.ts";
import { BODY } from "./upstream.ts";

/** pid → CPU ns of all its threads, for a process and its descendants, the root first. */
export type TreeSample = Map<number, number>;

/**
 * A process and its descendants, the root first. Each thread lists the children it forked,
 * so every thread's `children` is read, not only the main thread's.
 */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (const tid of list(`/proc/${pid}/task`)) {
    for (const child of read(`/proc/${pid}/task/${tid}/children`).split(" ").filter(Boolean))
      pids.push(...processTree(Number(child)));
  }
  return pids;
}

/** CPU time of every thread of a process (schedstat's first field), in ns; 0 once it is gone. */
export function processCpuNs(pid: number): number {
  let ns = 0;
  for (const tid of list(`/proc/${pid}/task`))
    ns += Number(read(`/proc/${pid}/task/${tid}/schedstat`).split(" ")[0] ?? 0);
  return ns;
}

export function sampleTree(pid: number): TreeSample {
  return new Map(processTree(pid).map((p) => [p, processCpuNs(p)]));
}

export interface GatewayCpu {
  totalNs: number;
  primaryNs: number;
  /** Each worker's (each descendant's), by pid. */
  workersNs: Map<number, number>;
  /** A process started or ended within the window: a worker restarted, its CPU is partial. */
  changed: boolean;
}

/** The CPU a gateway's processes used between two samples of its tree rooted at `root`. */
export function gatewayCpu(root: number, before: TreeSample, after: TreeSample): GatewayCpu {
  const primaryNs = (after.get(root) ?? 0) - (before.get(root) ?? 0);
  const workersNs = new Map<number, number>();
  for (const [pid, ns] of after) if (pid !== root) workersNs.set(pid, ns - (before.get(pid) ?? 0));
  const changed =
    [...before.keys()].some((p) => !after.has(p)) || [...after.keys()].some((p) => !before.has(p));
  const totalNs = primaryNs + [...workersNs.values()].reduce((a, b) => a + b, 0);
  return { totalNs, primaryNs, workersNs, changed };
}

/**
 * What n processes serve relative to one, each with a core of its own, when each request
 * costs `costN` CPU instead of `cost1` (at saturation, req/s = cores / CPU per request).
 */
export function projectedScaling(n: number, cost1: number, costN: number): number {
  return (n * cost1) / costN;
}

/** Each worker's share of the workers' CPU, in %, e.g. [51, 49]; and (max − min) / mean. */
export function cpuSplit(workersNs: Iterable<number>): { shares: number[]; spread: number } {
  const ns = [...workersNs];
  const sum = ns.reduce((a, b) => a + b, 0);
  if (ns.length === 0 || sum <= 0) return { shares: [], spread: 0 };
  return {
    shares: ns.map((v) => (100 * v) / sum),
    spread: (Math.max(...ns) - Math.min(...ns)) / (sum / ns.length),
  };
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return []; // the process ended meanwhile
  }
}

function read(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * paired: a 1-worker and a 2-worker gateway at once, both pinned to CPU 0, each saturated by
 * its own wrk (figure 1). unpinned: one gateway alone, on both CPUs (figure 2).
 */
type Placement = "paired" | "unpinned";
const PLACEMENTS: Placement[] = ["paired", "unpinned"];
const COUNTS = [1, 2] as const;
/** Above this much CPU (cores) used by other processes in a window, its round is run again. */
const FOREIGN_MAX = 0.1;

/** What one gateway did in one measured window. */
interface Window {
  load: LoadResult;
  cpu: GatewayCpu;
  /** Wall time of the window, s. */
  seconds: number;
  /** Open connections of each worker during the window (the primary's /status). */
  connections: number[];
}

interface Run extends Window {
  workers: number;
  placement: Placement;
  round: number;
  /** Cpus_allowed_list of the primary and each worker, read back. */
  cpus: string;
  busy: string;
  foreign: number;
}

/** A gateway started, checked and ready: every worker listens and serves. */
interface Gateway {
  name: string;
  workers: number;
  proc: Proc;
  url: string;
  admin: string;
  pid: number;
  cpus: string;
}

const env = process.env;
const cfg = {
  target: targetsNamed(env.BENCH_TARGET ?? "sluice")[0] as Target,
  rounds: Number(env.BENCH_ROUNDS ?? 5),
  seconds: Number(env.BENCH_DURATION ?? 8),
  warmup: Number(env.BENCH_WARMUP ?? 15),
  conns: Number(env.BENCH_CONNECTIONS ?? 64),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
};

/** The repository root and the scratch directory of this run. */
interface Workspace {
  root: string;
  scratch: string;
}

if (import.meta.main) {
  const { root, scratch, run } = benchWorkspace("workers-bench");
  await run(() => main({ root, scratch }));
}

async function main(ws: Workspace): Promise<void> {
  if (!cfg.target.path) throw new Error(`BENCH_TARGET=${cfg.target.name} is not a Sluice target`);
  // One loader per gateway of a pair: each writes its output to its own directory.
  const loaders = [0, 1].map((i) => {
    const dir = join(ws.scratch, `load-${i}`);
    mkdirSync(dir, { recursive: true });
    return pickLoader(ws.root, dir);
  }) as [Loader, Loader];
  if (!loaders[0].name.startsWith("wrk"))
    throw new Error("the workers bench needs wrk (bash bench/proxy/install.sh)");
  const notes: string[] = [];
  const backdrop = await startBackdrop({ ...ws, upstream: cfg.upstream, redis: false });
  const runs: Run[] = [];
  const enough = () => PLACEMENTS.every((p) => pairsOf(runs, p).filter((x) => x.clean).length >= cfg.rounds);
  for (let round = 0; round < 2 * cfg.rounds && !enough(); round++) {
    if (round >= cfg.rounds) console.error(`round ${round + 1}: again, other processes shared a round`);
    // Odd rounds start the 2-worker gateway first.
    const counts = round % 2 === 0 ? COUNTS : [...COUNTS].reverse();
    runs.push(...(await pairedRound(ws, counts, round, backdrop, loaders, notes)));
    for (const n of counts) runs.push(await unpinnedRun(ws, n, round, backdrop, loaders[0], notes));
  }
  const text = report(runs, loaders[0].name, notes);
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

/** Figure 1: both gateways at once on CPU 0, each saturated by its own loader on CPU 1. */
async function pairedRound(
  ws: Workspace,
  counts: readonly number[],
  round: number,
  backdrop: Backdrop,
  loaders: [Loader, Loader],
  notes: string[],
): Promise<Run[]> {
  const what = `paired-${round + 1}`;
  await waitForQuiet(what, notes);
  const gateways: Gateway[] = [];
  try {
    for (const n of counts)
      gateways.push(await startGateway(ws, `workers${n}-${what}`, n, PROXY_CPU, backdrop));
    await Promise.all(gateways.map((g, i) => warmUp(g, loaders[i] as Loader)));
    const m = await measure(
      what,
      () => measureWindow(gateways, loaders),
      ({ windows }) => windows.map((w, i) => `${gateways[i]?.workers} worker(s): ${describe(w)}`).join("; "),
      notes,
    );
    return gateways.map((g, i) => toRun(g, "paired", round, m.windows[i] as Window, m, notes));
  } finally {
    for (const g of gateways) await stopProc(g.proc);
  }
}

/** Figure 2: one gateway alone, unpinned, saturated by the loader on CPU 1. */
async function unpinnedRun(
  ws: Workspace,
  n: number,
  round: number,
  backdrop: Backdrop,
  loader: Loader,
  notes: string[],
): Promise<Run> {
  const name = `workers${n}-unpinned-${round + 1}`;
  await waitForQuiet(name, notes);
  const g = await startGateway(ws, name, n, `${PROXY_CPU},${LOAD_CPU}`, backdrop);
  try {
    await warmUp(g, loader);
    const m = await measure(
      name,
      () => measureWindow([g], [loader]),
      ({ windows }) => describe(windows[0] as Window),
      notes,
    );
    return toRun(g, "unpinned", round, m.windows[0] as Window, m, notes);
  } finally {
    await stopProc(g.proc);
  }
}

function toRun(
  g: Gateway,
  placement: Placement,
  round: number,
  w: Window,
  m: { busy: string; foreign: number },
  notes: string[],
): Run {
  if (w.load.errors > 0) notes.push(`${g.name}: ${w.load.errors} errors (socket or non-2xx) in the window`);
  if (w.cpu.changed) notes.push(`${g.name}: a gateway process started or exited within the window`);
  return { ...w, workers: g.workers, placement, round, cpus: g.cpus, busy: m.busy, foreign: m.foreign };
}

/** Starts the target with `--workers n` on `cpus`, and waits until every worker serves. */
async function startGateway(
  ws: Workspace,
  name: string,
  n: number,
  cpus: string,
  backdrop: Backdrop,
): Promise<Gateway> {
  const ctx: TargetContext = {
    root: ws.root,
    dir: join(ws.scratch, name),
    upstream: backdrop.upstream,
    port: await freePort(),
    adminPort: await freePort(),
    otlpEndpoint: backdrop.otlpEndpoint,
    redisUrl: "",
  };
  mkdirSync(ctx.dir, { recursive: true });
  const argv = [...(cfg.target.command(ctx) ?? []), "--workers", String(n)];
  // The primary and its workers share one limit, as they share their pod's.
  const proc = startProc(name, underGatewayLimit(ws.root, name, argv), ctx.dir, cpus);
  const url = `http://127.0.0.1:${ctx.port}${cfg.target.path}`;
  const admin = `http://127.0.0.1:${ctx.adminPort}`;
  try {
    await waitUntilAnswers(url, proc, 30_000, cfg.target.headers);
    if (n > 1) await waitForWorkers(admin, n);
    const res = await httpGet(url, 1000, cfg.target.headers);
    if (res.body.toString() !== BODY)
      throw new Error(`${name} answered HTTP ${res.status} without the upstream's body`);
    const pid = proc.child.pid ?? 0;
    const tree = processTree(pid);
    const expected = n > 1 ? n + 1 : 1;
    if (tree.length !== expected)
      throw new Error(
        `${name}: ${tree.length} processes in the gateway's tree (${tree}), expected ${expected}`,
      );
    return { name, workers: n, proc, url, admin, pid, cpus: tree.map(cpusAllowed).join(" / ") };
  } catch (err) {
    await stopProc(proc);
    throw err;
  }
}

async function warmUp(g: Gateway, loader: Loader): Promise<void> {
  await loader.run(g.url, cfg.conns, cfg.warmup, undefined, cfg.target.headers);
}

/** Saturates every gateway at once, each with its loader: each one's CPU, load and connections. */
async function measureWindow(gateways: Gateway[], loaders: Loader[]): Promise<{ windows: Window[] }> {
  const windows = await Promise.all(
    gateways.map(async (g, i) => {
      const before = sampleTree(g.pid);
      const t0 = performance.now();
      // Mid-window, while every connection of the load is open.
      const connections =
        g.workers > 1 ? sleep(cfg.seconds * 500).then(() => workerConnections(g.admin)) : Promise.resolve([]);
      const load = await (loaders[i] as Loader).run(
        g.url,
        cfg.conns,
        cfg.seconds,
        undefined,
        cfg.target.headers,
      );
      const after = sampleTree(g.pid);
      const seconds = (performance.now() - t0) / 1000;
      return { load, cpu: gatewayCpu(g.pid, before, after), seconds, connections: await connections };
    }),
  );
  return { windows };
}

function describe(r: Window): string {
  const { shares } = cpuSplit(r.cpu.workersNs.values());
  return (
    `${Math.round(r.load.rps)} req/s, ${costUs(r).toFixed(1)} µs/req, gateway ${cores(r).toFixed(2)} cores` +
    (shares.length
      ? `, primary ${pct(r.cpu.primaryNs / r.cpu.totalNs)} %, workers' CPU ${shares.map(Math.round).join("/")} %`
      : "") +
    (r.connections.length ? `, connections ${r.connections.join("/")}` : "")
  );
}

/** Polls the primary's /status until n workers listen and serve a snapshot. */
async function waitForWorkers(admin: string, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const { workers = [] } = JSON.parse((await httpGet(`${admin}/status`)).body.toString()) as StatusBody;
      if (workers.filter((w) => w.listening && w.serving).length === n) return;
      last = JSON.stringify(workers);
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${n} workers did not all listen within 30 s (last /status workers: ${last})`);
}

/** The runs of 1 and of 2 workers of each round; clean: no other process shared either window. */
function pairsOf(runs: Run[], placement: Placement) {
  const of = (n: number, round: number) =>
    runs.find((r) => r.placement === placement && r.workers === n && r.round === round);
  return [...new Set(runs.map((r) => r.round))].flatMap((round) => {
    const one = of(1, round);
    const two = of(2, round);
    if (!one || !two) return [];
    return [{ round, one, two, clean: one.foreign <= FOREIGN_MAX && two.foreign <= FOREIGN_MAX }];
  });
}

function report(runs: Run[], loaderName: string, notes: string[]): string {
  /** The pairs the figures use: the clean ones, or every one when none is (noted). */
  const used = (p: Placement) => {
    const pairs = pairsOf(runs, p);
    const clean = pairs.filter((x) => x.clean);
    return clean.length > 0 ? clean : pairs;
  };
  const usedRuns = (p: Placement, n: number) => used(p).map((x) => (n === 1 ? x.one : x.two));
  /** f of each round used. */
  const perRound = (p: Placement, f: (one: Run, two: Run) => number) => used(p).map((x) => f(x.one, x.two));
  const rounds = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" / ");
  const projected = (p: Placement) =>
    perRound(p, (one, two) => projectedScaling(2, costUs(one), costUs(two)));
  const measured = perRound("unpinned", (one, two) => two.load.rps / one.load.rps);
  /** Median µs per request of the primary, and of the workers (or the one process). */
  const primaryUs = (p: Placement) =>
    median(usedRuns(p, 2).map((r) => r.cpu.primaryNs / 1000 / r.load.requests));
  const workersUs = (p: Placement, n: number) => median(usedRuns(p, n).map(workerUs));
  const primaryShare = (p: Placement) => median(usedRuns(p, 2).map((r) => r.cpu.primaryNs / r.cpu.totalNs));
  const span = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
  const twos = runs.filter((r) => r.workers === 2);
  const spreads = twos.map((r) => cpuSplit(r.cpu.workersNs.values()).spread);
  const connSpreads = twos.map((r) => cpuSplit(r.connections).spread);
  const starved = twos.filter((r) => Math.min(...cpuSplit(r.cpu.workersNs.values()).shares) < 25);
  const cleanRounds = (p: Placement) => pairsOf(runs, p).filter((x) => x.clean).length;
  for (const p of PLACEMENTS)
    if (cleanRounds(p) === 0) notes.push(`${p}: no round without other processes; the figures use them all`);

  const header = [
    "gateway",
    "`--workers`",
    "CPU µs/req",
    "rounds",
    "req/s",
    "rounds",
    "gateway cores",
    "primary µs/req (share)",
    "workers' CPU split %",
    "connections per worker",
  ];
  const label = { paired: `paired, CPU ${PROXY_CPU}`, unpinned: "alone, unpinned" };
  const mark = (r: Run) => (r.foreign > FOREIGN_MAX ? "*" : "");
  const body = PLACEMENTS.flatMap((p) =>
    COUNTS.map((n) => {
      const all = runs.filter((r) => r.placement === p && r.workers === n);
      const rs = usedRuns(p, n);
      return [
        label[p],
        String(n),
        median(rs.map(costUs)).toFixed(1),
        all.map((r) => `${costUs(r).toFixed(1)}${mark(r)}`).join(" / "),
        int(median(rs.map((r) => r.load.rps))),
        all.map((r) => `${int(r.load.rps)}${mark(r)}`).join(" / "),
        median(rs.map(cores)).toFixed(2),
        n > 1
          ? `${median(rs.map((r) => r.cpu.primaryNs / 1000 / r.load.requests)).toFixed(1)} (${pct(median(rs.map((r) => r.cpu.primaryNs / r.cpu.totalNs)))} %)`
          : "(one process)",
        n > 1
          ? all.map((r) => cpuSplit(r.cpu.workersNs.values()).shares.map(Math.round).join("/")).join(", ")
          : "",
        n > 1 ? all.map((r) => r.connections.join("/")).join(", ") : "",
      ];
    }),
  );
  const cpusOf = (p: Placement) =>
    COUNTS.map(
      (n) => `${n} worker(s) ${runs.find((r) => r.placement === p && r.workers === n)?.cpus ?? "?"}`,
    ).join(", ");
  const shared = runs.filter((r) => r.foreign > FOREIGN_MAX);
  return [
    `## ${machineHeading("workers")}`,
    "",
    `- Method: bench/proxy/workers.ts. The \`${cfg.target.name}\` target (${cfg.target.about}) with \`--workers 1\` and \`--workers 2\`; every run fresh gateways, ${cfg.warmup} s of warm-up, then ${cfg.seconds} s measured at saturation, each gateway by its own ${loaderName}, ${cfg.conns} connections, on CPU ${LOAD_CPU} with the upstream (${cfg.upstream}). A round: the **paired** run, then the two **alone** runs, 1 and 2 workers (2 first in odd rounds). A round that other processes shared (more than ${FOREIGN_MAX} core in a window, marked *) is left out of the medians and ratios and run again, up to ${2 * cfg.rounds} rounds: ${cleanRounds("paired")} paired and ${cleanRounds("unpinned")} alone rounds used.`,
    "- Gateway CPU: every thread of the primary and of each worker (the primary's children), from /proc/PID/task/*/schedstat; µs/req = gateway CPU / requests answered in the window. With `--workers 1` there is no primary: one process. Its output is a pipe read on CPU 1, as in a pod.",
    `- **paired**: the 1-worker and the 2-worker gateway at once, both pinned to CPU ${PROXY_CPU}, so the core's speed, which moves by tens of percent within minutes on this machine (paired.ts), is the same for both. **alone, unpinned**: one gateway at a time on both CPUs, wrk and nginx on CPU ${LOAD_CPU} as in every bench: the one worker has a core without the load, a second worker takes what it can of the load's core. CPUs read back (primary / workers): paired ${cpusOf("paired")}; alone ${cpusOf("unpinned")}.`,
    `- Machine: Linux ${release()}. ${gatewayLimitReport(join(import.meta.dirname, "../.."))}`,
    "",
    ...table(header, body),
    "",
    `- **Projected scaling of 2 workers, from CPU per request: ×${median(projected("paired")).toFixed(2)}** (paired; rounds ${rounds(projected("paired"))}) = 2 × µs/req of 1 worker / µs/req of 2 workers: what 2 workers serve with a core each and the load elsewhere, if a request costs what it cost here. Projected, not measured: this machine has no 2 cores free of the load. Paired, both gateways meet the same core at the same moment; but the two workers take turns on it (a quarter of CPU ${PROXY_CPU} each), which a core each would not.`,
    `- Where the extra CPU went: the primary ${primaryUs("paired").toFixed(1)} µs per request (${pct(primaryShare("paired"))} % of the gateway's CPU), passing on the workers' access log mostly; the workers ${workersUs("paired", 2).toFixed(1)} µs against ${workersUs("paired", 1).toFixed(1)} µs for the one process beside them (${signed(workersUs("paired", 2) / workersUs("paired", 1) - 1)} %). Were the workers' own cost that of one process, the primary alone would leave ×${projectedScaling(2, workersUs("paired", 1), workersUs("paired", 1) + primaryUs("paired")).toFixed(2)}.`,
    `- Alone, one run after the other, the projection is ×${median(projected("unpinned")).toFixed(2)} (rounds ${rounds(projected("unpinned"))}; the primary ${primaryUs("unpinned").toFixed(1)} µs, the workers ${workersUs("unpinned", 2).toFixed(1)} against ${workersUs("unpinned", 1).toFixed(1)} µs): the workers run on both cores, but each run meets the machine at another speed (one worker alone: ${span(usedRuns("unpinned", 1).map(costUs))} µs/req over the rounds), too much to tell whether a core each takes away the workers' extra cost.`,
    `- **Measured under the kernel's sharing: 2 workers serve ×${median(measured).toFixed(2)} of 1 worker's req/s** (alone, unpinned; rounds ${rounds(measured)}), with ${median(usedRuns("unpinned", 2).map(cores)).toFixed(2)} cores against ${median(usedRuns("unpinned", 1).map(cores)).toFixed(2)}: wrk and nginx use the rest of the 2 cores. What this machine leaves the workers, not their scaling; and runs one after the other, so the machine's speed moves between them too.`,
    starved.length === 0
      ? `- Every worker got a share: the workers' CPU differed by at most ${pct(Math.max(...spreads))} % of their mean (median ${pct(median(spreads))} %), their open connections in the window by at most ${pct(Math.max(...connSpreads))} % (median ${pct(median(connSpreads))} %). The kernel spreads connections by a hash of their addresses (SO_REUSEPORT), not evenly; a worker with fewer connections still stays busy at saturation.`
      : `- **A worker got less than a quarter of the workers' CPU** in ${starved.map((r) => `workers2-${r.placement}-${r.round + 1}`).join(", ")}: the connections did not spread.`,
    "",
    ...(shared.length || notes.length
      ? [
          "Notes:",
          "",
          ...notes.map((n) => `- ${n}`),
          ...(shared.length
            ? [
                `- * ${shared.length} of ${runs.length} windows were shared with other processes or steal (up to ${Math.max(...shared.map((r) => r.foreign)).toFixed(2)} cores).`,
              ]
            : []),
          "",
        ]
      : []),
  ].join("\n");
}

interface StatusBody {
  workers?: { pid: number; listening: boolean; serving?: string; connections?: number }[];
}

/** Each worker's open connections now, by worker index, from the primary's /status. */
async function workerConnections(admin: string): Promise<number[]> {
  try {
    const { workers = [] } = JSON.parse(
      (await httpGet(`${admin}/status`, 3000)).body.toString(),
    ) as StatusBody;
    return workers.map((w) => w.connections ?? Number.NaN);
  } catch {
    return [];
  }
}

function costUs(r: { cpu: GatewayCpu; load: LoadResult }): number {
  return r.cpu.totalNs / 1000 / r.load.requests;
}

/** µs per request of the workers alone, without the primary (the one process's, with 1). */
function workerUs(r: { cpu: GatewayCpu; load: LoadResult }): number {
  return (r.cpu.totalNs - (r.cpu.workersNs.size > 0 ? r.cpu.primaryNs : 0)) / 1000 / r.load.requests;
}

function cores(r: { cpu: GatewayCpu; seconds: number }): number {
  return r.cpu.totalNs / 1e9 / r.seconds;
}

/** "+13", "-7": a change as a signed percentage. */
function signed(fraction: number): string {
  return `${fraction >= 0 ? "+" : "−"}${Math.abs(100 * fraction).toFixed(0)}`;
}

function pct(fraction: number): string {
  return (100 * fraction).toFixed(fraction < 0.1 ? 1 : 0);
}
