// Memory at scale: how much a gateway holding 10,000 GatewayRoutes and 10,000 ApiKeys keeps
// resident (issue 17: ≤ 150 MB), beside its 10-route counterpart.
//
//   node bench/proxy/scale.ts
//
// Each target of targets.ts (default: sluice-10k, then sluice-apikey, the same route and key
// check with 10 routes and one key) runs once from each snapshot source:
// - config-dir: the standalone gateway reads and compiles the YAML itself (what run.ts and
//   paired.ts run);
// - snapshot-file: the snapshot compiled beforehand, here, by the same compileDirectory —
//   what a replica loads from the operator's Secret, which never compiles.
// The gateway runs alone on core 0 (the upstream and wrk on core 1). Resident memory is read
// from /proc/PID/status (VmRSS, and VmHWM: the peak, which a pod's memory limit must allow)
// once it serves, every 250 ms under BENCH_DURATION s of saturating load, right after it,
// and after BENCH_IDLE s without traffic. memory-probe.mjs, loaded into the gateway with
// --import, splits it: the V8 heap (allocated and used), memory outside it, and the heap
// still live after a full garbage collection, forced last.
//
// Env: BENCH_TARGETS=sluice-10k,sluice-apikey  BENCH_SOURCES=config-dir,snapshot-file
//      BENCH_DURATION=10 (s of load)  BENCH_IDLE=10 (s)  BENCH_CONNECTIONS=50
//      BENCH_UPSTREAM=nginx|node  BENCH_OUT=docs/benchmarks.md ("-": stdout only)  BENCH_KEEP=1
//      BENCH_NODE_OPTIONS="--max-semi-space-size=16" (more flags for the gateway's node, after the
//      image's: on its command line, as NODE_OPTIONS refuses most V8 flags)
//      BENCH_MEMORY_LIMIT_MIB=<the chart's gateway limit> (0: none)
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { compileDirectory } from "../../core/sources/directory-source.ts";
import { freePort } from "../../test-support/index.ts";
import { benchMemoryLimit } from "../memory-limit.ts";
import { startBackdrop } from "./backdrop.ts";
import { type LoadResult, pickLoader } from "./load.ts";
import { type HeapSample, heapSample, PROBE, type ProcMemory, procMemory } from "./memory.ts";
import { benchWorkspace, startProc, stopProc, waitUntilAnswers } from "./procs.ts";
import { machineHeading, table, writeMarkdown } from "./report.ts";
import {
  PRECOMPILED_HASH_KEY,
  precompile,
  sluiceCommand,
  TARGETS,
  type Target,
  type TargetContext,
} from "./targets.ts";

const PROXY_CPU = "0";
const RSS_TARGET_MB = 150;
const env = process.env;
const cfg = {
  targets: (env.BENCH_TARGETS ?? "sluice-10k,sluice-apikey").split(",").map((s) => s.trim()),
  sources: (env.BENCH_SOURCES ?? "config-dir,snapshot-file").split(",").map((s) => s.trim()),
  seconds: Number(env.BENCH_DURATION ?? 10),
  idle: Number(env.BENCH_IDLE ?? 10),
  conns: Number(env.BENCH_CONNECTIONS ?? 50),
  upstream: env.BENCH_UPSTREAM ?? "nginx",
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
  /** More node flags for the gateway, e.g. --max-semi-space-size=16: what they would save. */
  nodeOptions: env.BENCH_NODE_OPTIONS ?? "",
};
type Source = "config-dir" | "snapshot-file";

interface Row {
  target: string;
  source: Source;
  rules: number;
  keys: number;
  /** Compile of the directory in this process (snapshot-file only), ms. */
  compileMs?: number;
  /** From the start of the process to its first 2xx, and to its "snapshot loaded" log line, ms. */
  servingMs: number;
  loadedMs: number | undefined;
  serving: ProcMemory;
  underLoad: number;
  afterLoad: ProcMemory;
  idle: ProcMemory;
  afterGc: ProcMemory;
  heapIdle: HeapSample;
  heapLive: HeapSample;
  load: LoadResult;
}

// In a memory cgroup of the chart's gateway limit, as its pod runs: Node sizes V8's heap
// from it (bench/memory-limit.ts).
const limit = benchMemoryLimit(process.cwd(), "gateway");
const { root, scratch, run } = benchWorkspace("scale-bench");
await run(main);

async function main() {
  const targets = cfg.targets.map((name) => {
    const t = TARGETS.find((x) => x.name === name);
    if (!t?.path) throw new Error(`BENCH_TARGETS: ${name} is not a Sluice target of targets.ts`);
    return t;
  });
  for (const s of cfg.sources)
    if (s !== "config-dir" && s !== "snapshot-file") throw new Error(`BENCH_SOURCES: unknown source ${s}`);
  const backdrop = await startBackdrop({ root, scratch, upstream: cfg.upstream, redis: false });
  const rows: Row[] = [];
  for (const target of targets) {
    for (const source of cfg.sources as Source[]) {
      const ctx: TargetContext = {
        root,
        dir: join(scratch, `${target.name}-${source}`),
        upstream: backdrop.upstream,
        port: await freePort(),
        adminPort: await freePort(),
        otlpEndpoint: backdrop.otlpEndpoint,
        redisUrl: "",
      };
      mkdirSync(ctx.dir, { recursive: true });
      const row = await measure(target, source, ctx);
      rows.push(row);
      console.error(
        `${row.target} (${source}): serving after ${(row.servingMs / 1000).toFixed(1)} s, RSS ${mb(row.serving.rss)} serving, ` +
          `${mb(row.underLoad)} under load, ${mb(row.idle.rss)} idle, peak ${mb(row.idle.hwm)} MB; ` +
          `live heap ${mb(row.heapLive.heapUsed)} MB; ${Math.round(row.load.rps)} req/s`,
      );
    }
  }
  const text = report(rows, pickLoader(root, scratch).name);
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

async function measure(target: Target, source: Source, ctx: TargetContext): Promise<Row> {
  const argv = target.command(ctx);
  if (!argv) throw new Error(`${target.name} starts no process`);
  // Every Sluice target writes its config directory; some load it compiled (--snapshot-file).
  const configDir = join(ctx.dir, "config");
  const flag = (name: string) => argv.indexOf(name);
  if (source === "config-dir" && flag("--snapshot-file") >= 0)
    argv.splice(flag("--snapshot-file"), 2, "--config-dir", configDir);
  if (source === "snapshot-file" && flag("--config-dir") >= 0) {
    argv.splice(
      flag("--config-dir"),
      2,
      "--snapshot-file",
      precompile(configDir, join(ctx.dir, "snapshot.json")),
    );
    argv.unshift("env", `SLUICE_API_KEY_HASH_KEY=${PRECOMPILED_HASH_KEY}`);
  }
  // What loading the directory costs, timed apart (precompile caches): YAML parse and compile.
  let compileMs: number | undefined;
  if (source === "snapshot-file") {
    const started = performance.now();
    compileDirectory(configDir, PRECOMPILED_HASH_KEY);
    compileMs = performance.now() - started;
  }
  const probeOut = join(ctx.dir, "memory.json");
  const { proc, url, spawnedAt, servingMs } = await startServing(
    target,
    `${target.name}-${source}`,
    argv,
    ctx,
    probeOut,
  );
  try {
    const pid = proc.child.pid ?? 0;
    const loaded = loadedLine(proc.log);
    const serving = procMemory(pid);
    let underLoad = serving.rss;
    const sampler = setInterval(() => {
      underLoad = Math.max(underLoad, procMemory(pid).rss);
    }, 250);
    // Its own directory: the load's log holds this run only.
    const loader = pickLoader(root, ctx.dir);
    let result: LoadResult;
    try {
      result = await loader.run(url, cfg.conns, cfg.seconds, undefined, target.headers);
    } finally {
      clearInterval(sampler);
    }
    if (result.errors > 0) throw new Error(`${target.name}: ${result.errors} errors under load`);
    const afterLoad = procMemory(pid);
    underLoad = Math.max(underLoad, afterLoad.rss);
    await sleep(cfg.idle * 1000);
    const heapIdle = await heapSample(pid, probeOut);
    const idle = procMemory(pid);
    const heapLive = await heapSample(pid, probeOut, true);
    const afterGc = procMemory(pid);
    return {
      target: target.name,
      source,
      rules: loaded?.rules ?? 0,
      keys: countKeys(configDir),
      ...(compileMs === undefined ? {} : { compileMs }),
      servingMs,
      loadedMs: loaded ? loaded.time - spawnedAt : undefined,
      serving,
      underLoad,
      afterLoad,
      idle,
      afterGc,
      heapIdle,
      heapLive,
      load: result,
    };
  } finally {
    await stopProc(proc);
  }
}

/** The gateway's command with BENCH_NODE_OPTIONS right after node (later flags win). */
function withNodeFlags(argv: string[]): string[] {
  const at = argv.indexOf(process.execPath);
  const extra = cfg.nodeOptions.split(/\s+/).filter(Boolean);
  if (at < 0 || extra.length === 0) return argv;
  const flags = argv.slice(at + 1).findIndex((a) => !a.startsWith("--"));
  return argv.toSpliced(at + 1 + (flags < 0 ? argv.length : flags), 0, ...extra);
}

/**
 * Starts the gateway with the memory probe and waits until it serves. The ports were free
 * when picked, but on a shared machine another process can take one before the gateway
 * binds it (after loading its snapshot): then again with new ports, twice at most.
 */
async function startServing(
  target: Target,
  name: string,
  argv: string[],
  ctx: TargetContext,
  probeOut: string,
) {
  for (let attempt = 1; ; attempt++) {
    const proc = startProc(
      name,
      [
        ...limit.prefix,
        "env",
        `NODE_OPTIONS=--import=${PROBE}`,
        `PROBE_OUT=${probeOut}`,
        ...withNodeFlags(argv),
      ],
      ctx.dir,
      PROXY_CPU,
    );
    const spawnedAt = Date.now();
    const url = `http://127.0.0.1:${ctx.port}${target.path}`;
    try {
      await waitUntilAnswers(url, proc, 180_000, target.headers);
      return { proc, url, spawnedAt, servingMs: Date.now() - spawnedAt };
    } catch (err) {
      await stopProc(proc);
      if (attempt === 3 || !readFileSync(proc.log, "utf8").includes("EADDRINUSE")) throw err;
    }
    rmSync(proc.log, { force: true });
    ctx.port = await freePort();
    ctx.adminPort = await freePort();
    argv[argv.indexOf("--listen") + 1] = `127.0.0.1:${ctx.port}`;
    argv[argv.indexOf("--admin-listen") + 1] = `127.0.0.1:${ctx.adminPort}`;
  }
}

/** The gateway's first "snapshot loaded" log line: when (ms since the epoch) and its rule count. */
function loadedLine(log: string): { time: number; rules: number } | undefined {
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line.includes('"snapshot loaded"')) continue;
    // `time` is ISO-8601 (core/admin/log-format.ts); older logs wrote ms since the epoch.
    const j = JSON.parse(line) as { time: string | number; rules: number };
    return { time: typeof j.time === "string" ? Date.parse(j.time) : j.time, rules: j.rules };
  }
  return undefined;
}

function countKeys(configDir: string): number {
  return readFileSync(join(configDir, "bench.yaml"), "utf8").match(/^kind: ApiKey$/gm)?.length ?? 0;
}

function mb(v: number): string {
  return v.toFixed(0);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "" : (ms / 1000).toFixed(1);
}

function report(rows: Row[], loaderName: string): string {
  const root = process.cwd();
  const imageCommand = sluiceCommand(root)
    .map((w) => w.replace(root, "."))
    .join(" ");
  const nodeOptions = cfg.nodeOptions ? `, with \`${cfg.nodeOptions}\` added after the image's flags` : "";
  const lines = [
    `## ${machineHeading("scale")}`,
    "",
    `- Method: bench/proxy/scale.ts. Each gateway alone on CPU ${PROXY_CPU}; ${loaderName} (${cfg.conns} connections, ${cfg.seconds} s) and the upstream (${cfg.upstream}) on the other core. RSS = VmRSS, peak = VmHWM (/proc/PID/status); heap figures from process.memoryUsage() in the gateway (bench/proxy/memory-probe.mjs). Target: ≤ ${RSS_TARGET_MB} MB with 10,000 routes and keys (issue 17), judged on the peak.`,
    `- The gateways ran as the image runs them (targets.ts sluiceCommand): \`${imageCommand}\`${nodeOptions}, ${limit.report}`,
    "- Sources: **config-dir** = the standalone gateway parses and compiles the YAML itself; **snapshot-file** = it loads the snapshot compiled beforehand, as a replica loads the operator's Secret.",
    "",
    ...table(
      [
        "target",
        "source",
        "routes / keys",
        "serving after s",
        "loaded after s",
        "RSS serving MB",
        "RSS under load (max)",
        "RSS after load",
        `RSS idle ${cfg.idle} s`,
        "peak",
        "req/s",
        `≤ ${RSS_TARGET_MB} MB`,
      ],
      rows.map((r) => [
        r.target,
        r.source,
        `${r.rules.toLocaleString("en-US")} / ${r.keys.toLocaleString("en-US")}`,
        seconds(r.servingMs),
        seconds(r.loadedMs),
        mb(r.serving.rss),
        mb(r.underLoad),
        mb(r.afterLoad.rss),
        mb(r.idle.rss),
        mb(r.idle.hwm),
        Math.round(r.load.rps).toLocaleString("en-US"),
        r.rules < 10_000 ? "" : r.idle.hwm <= RSS_TARGET_MB ? "met" : "missed",
      ]),
    ),
    "",
    `Where the idle RSS is (MB, ${cfg.idle} s after the load): the mapped files (the node binary), the V8 heap as allocated (its new space, where every request's garbage lands, apart) and as used, memory outside the heap (buffers, native objects), the rest (code, native allocations, stacks); then after a forced full GC.`,
    "",
    ...table(
      [
        "target",
        "source",
        "RSS idle",
        "files",
        "V8 heap allocated",
        "new space",
        "heap used",
        "external",
        "rest",
        "live heap after GC",
        "RSS after GC",
      ],
      rows.map((r) => {
        const h = r.heapIdle;
        return [
          r.target,
          r.source,
          mb(r.idle.rss),
          mb(r.idle.file),
          mb(h.heapTotal),
          mb(h.spaces.new_space ?? 0),
          mb(h.heapUsed),
          mb(h.external),
          mb(r.idle.rss - r.idle.file - h.heapTotal - h.external),
          mb(r.heapLive.heapUsed),
          mb(r.afterGc.rss),
        ];
      }),
    ),
  ];
  const compiled = rows.filter((r) => r.compileMs !== undefined);
  if (compiled.length)
    lines.push(
      "",
      `Compile of the config directory in the bench process (snapshot-file rows, the gateway's load of a config directory without the rest of its start): ${compiled.map((r) => `${r.target} ${Math.round(r.compileMs ?? 0)} ms`).join(", ")}.`,
    );
  return `${lines.join("\n")}\n`;
}
