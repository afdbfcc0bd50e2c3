// apply → served, through the API: how long after the API server has stored an edit of a
// GatewayRoute every gateway replica serves it (issue 17: p99 ≤ 500 ms).
//
//   node bench/apply-to-served.ts
//
// - A throwaway etcd + kube-apiserver (e2e/testenv/start-dev.sh; the binaries are built from
//   Go modules once and cached in .cache/), the CRDs and config/rbac; one operator and
//   BENCH_REPLICAS gateway replicas as local processes with the chart's CLI and flags, each
//   as its ServiceAccount (e2e/harness); an upstream in this process. One operator: a standby
//   only compiles too, and on a 2-core machine that would be the leader's CPU.
// - The world: BENCH_ROUTES routes besides the edited one, all to one BackendPool.
// - BENCH_EDITS edits of the route's path (/edit-N), each a JSON merge patch of its spec sent
//   with the API client the harness's KubeClient wraps — no kubectl. The clock starts when
//   the PATCH returns (the object is stored) and stops, per replica, at the first
//   poll of /edit-N that the upstream answers; "every replica" is the last of them. Each
//   replica is polled every BENCH_POLL_MS over a keep-alive connection.
// - Between edits a random pause within BENCH_PAUSE_MS, so each edit is measured alone (the
//   status writes and replica reports the last one caused included) and the edits do not
//   fall in step with a timer of the operator or the gateways.
// - Each edit is split by the processes' log lines (edit-timeline.ts): stored → compiled (the
//   operator's watch, its debounce and the compile), → published (its Secret write returned)
//   and → loaded by each replica (the write, the replica's Secret watch, decode, validation,
//   build; a replica can log its load before the operator logs its write), → seen (polling).
//
// Env: BENCH_EDITS=100  BENCH_REPLICAS=2  BENCH_ROUTES=100  BENCH_POLL_MS=5
//      BENCH_PAUSE_MS=1000-1500  BENCH_OUT=docs/benchmarks.md ("-": stdout only)
//      BENCH_KEEP=1 (keep the logs; they are kept anyway when the bench fails)
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import { installCrds } from "../e2e/harness/install.ts";
import { KubeClient } from "../e2e/harness/kube-client.ts";
import { serviceAccountKubeconfig } from "../e2e/harness/service-account.ts";
import { type GatewayProcess, SluiceProcesses } from "../e2e/harness/sluice-processes.ts";
import { type EditTimeline, editTimeline, logLines, percentile } from "./edit-timeline.ts";
import { cpuModel, foreignCores, sampleCpu } from "./proxy/cpu.ts";
import { table, writeMarkdown } from "./proxy/report.ts";
import { ownProcessGroup, runOnTestenv, type Testenv } from "./testenv.ts";

const TARGET_P99_MS = 500;
const NS = "bench-edits";
const SYSTEM = "sluice-system";
const env = process.env;
const [pauseMin, pauseMax] = (env.BENCH_PAUSE_MS ?? "1000-1500").split("-").map(Number) as [number, number];
const cfg = {
  edits: Number(env.BENCH_EDITS ?? 100),
  replicas: Number(env.BENCH_REPLICAS ?? 2),
  routes: Number(env.BENCH_ROUTES ?? 100),
  pollMs: Number(env.BENCH_POLL_MS ?? 5),
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
};

interface Edit {
  /** PATCH sent → answered, ms. */
  writeMs: number;
  /** Stored (PATCH answered) → served, per replica, ms. */
  servedMs: number[];
  /** The same moment as Date.now(), to find the edit in the logs. */
  storedAt: number;
  /** Cores' worth of CPU used by processes other than the bench's own during the edit. */
  foreign: number;
  timeline: EditTimeline | undefined;
}

const procs = new SluiceProcesses();
await runOnTestenv("apply-to-served", procs, main);

async function main(testenv: Testenv) {
  const { kubeconfig, pgrps } = testenv;
  // The bench's processes, for telling its CPU from other work on a shared machine: this
  // process with the operator and replicas it spawns (one process group), etcd and the API
  // server (each leads its own).
  pgrps.add(ownProcessGroup());
  const kube = new KubeClient(kubeconfig);
  await installCrds(kube, [NS, SYSTEM]);
  const upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstream.unref();
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const base = `/apis/sluice.dev/v1alpha1/namespaces/${NS}`;
  const create = async (plural: string, object: unknown): Promise<unknown> => {
    const res = await kube.send("POST", `${base}/${plural}`, object);
    if (res.status !== 201) throw new Error(`create ${plural}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  await create("backendpools", {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    metadata: { name: "upstream", namespace: NS },
    spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
  });
  // 20 at a time: 10,000 one by one took the API server 3.5 minutes.
  for (let i = 0; i < cfg.routes; i += 20)
    await Promise.all(
      Array.from({ length: Math.min(20, cfg.routes - i) }, (_, k) =>
        create("gatewayroutes", route(`svc-${i + k}`, `/svc-${i + k}`)),
      ),
    );
  await create("gatewayroutes", route("edited", "/edit-0"));
  const api = ApiClient.load(kubeconfig);

  // The operator first, so the snapshot Secret exists when the replicas start watching it.
  const operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  const gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs);
  // Each process's ports are picked free, not held: the next process starts once the last
  // one listens on its admin port, or it could pick the same one.
  const listening = (what: string, admin: string) =>
    procs.until(`${what} to listen on ${admin}`, () => isListening(`${admin}/healthz`), 60_000);
  const operator = await procs.operator("operator", operatorKubeconfig, SYSTEM);
  await listening("the operator", operator.admin);
  const replicas: GatewayProcess[] = [];
  for (let r = 1; r <= cfg.replicas; r++) {
    const replica = await procs.gateway(`gateway-${r}`, gatewayKubeconfig, `${SYSTEM}/sluice-snapshot`);
    await listening(`gateway-${r}`, replica.admin);
    replicas.push(replica);
  }
  const dispatcher = new Agent({ connections: 1, pipelining: 1 });
  const serves = async (replica: GatewayProcess, path: string) => {
    try {
      const res = await request(`${replica.url}${path}`, { dispatcher });
      return res.statusCode === 200 && (await res.body.text()) === `upstream saw ${path}`;
    } catch {
      return false;
    }
  };
  for (const replica of replicas)
    await procs.until(
      `${replica.url} to serve /edit-0`,
      async () => (await serves(replica, "/edit-0/x")) || undefined,
      60_000,
    );
  // The operator first writes every object's status (Accepted, then Programmed once the
  // replicas report): ~8 ms per object here, during which a reconcile — and so the publish of
  // an edit — waits. Edits are measured once its log has been quiet for 3 s.
  const settledAfter = await quiet(join(procs.logs, "operator.log"), 3_000, 600_000);
  console.error(
    `${cfg.replicas} replicas serve ${cfg.routes + 1} routes; the operator settled ${(settledAfter / 1000).toFixed(1)} s after they did; ${cfg.edits} edits follow (logs in ${procs.logs})`,
  );

  const edits: Edit[] = [];
  for (let i = 1; i <= cfg.edits; i++) {
    await sleep(pauseMin + Math.random() * (pauseMax - pauseMin));
    const path = `/edit-${i}`;
    const cpu0 = sampleCpu(pgrps);
    const sent = performance.now();
    // A merge patch of the spec: the operator writes the route's status meanwhile, so a PUT
    // with the last resourceVersion would conflict.
    const res = await api.exchange(
      "PATCH",
      `${base}/gatewayroutes/edited`,
      { spec: route("edited", path).spec },
      "application/merge-patch+json",
    );
    const stored = performance.now();
    const storedAt = Date.now();
    if (res.status !== 200) throw new Error(`edit ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    const servedMs = await Promise.all(
      replicas.map(async (replica) => {
        const deadline = stored + 10_000;
        while (!(await serves(replica, `${path}/x`))) {
          if (performance.now() > deadline)
            throw new Error(`${replica.url} did not serve ${path} within 10 s (logs in ${procs.logs})`);
          await sleep(cfg.pollMs);
        }
        return performance.now() - stored;
      }),
    );
    const foreign = foreignCores(cpu0, sampleCpu(pgrps));
    edits.push({ writeMs: stored - sent, servedMs, storedAt, foreign, timeline: undefined });
    if (i % 10 === 0)
      console.error(`${i} edits: last served by every replica after ${Math.max(...servedMs).toFixed(0)} ms`);
  }
  await dispatcher.close();

  // Let the last lines reach the log files, then split each edit.
  await sleep(500);
  const operatorLog = logLines(readFileSync(join(procs.logs, "operator.log"), "utf8"));
  const replicaLogs = replicas.map((_, r) =>
    logLines(readFileSync(join(procs.logs, `gateway-${r + 1}.log`), "utf8")),
  );
  for (const e of edits) e.timeline = editTimeline(e.storedAt, operatorLog, replicaLogs);
  // The slowest edits, each stage apart, for a look at the logs.
  const slowest = [...edits.entries()]
    .sort(([, a], [, b]) => Math.max(...b.servedMs) - Math.max(...a.servedMs))
    .slice(0, 10);
  for (const [i, e] of slowest) {
    if (Math.max(...e.servedMs) <= TARGET_P99_MS) continue;
    const t = e.timeline;
    console.error(
      `slow edit ${i + 1} (stored at ${e.storedAt}): served after ${e.servedMs.map((ms) => ms.toFixed(0)).join(" / ")} ms; ` +
        `compiled +${delta(e.storedAt, t?.compiledAt)} (compile ${t?.compileMs?.toFixed(0)}), published +${delta(e.storedAt, t?.publishedAt)}, ` +
        `loaded +${t?.loadedAt.map((l) => delta(e.storedAt, l)).join(" / ")} ms; other work ${e.foreign.toFixed(2)} cores`,
    );
  }

  const text = report(edits);
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

interface RouteObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: unknown;
}

function route(name: string, path: string): RouteObject {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    metadata: { name, namespace: NS },
    spec: {
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: path } }], backendRefs: [{ name: "upstream" }] },
      ],
    },
  };
}

function report(edits: Edit[]): string {
  const every = edits.map((e) => Math.max(...e.servedMs));
  const row = (what: string, xs: number[]) => [
    what,
    ...[50, 90, 99].map((p) => percentile(xs, p).toFixed(0)),
    Math.max(...xs).toFixed(0),
  ];
  const split = (f: (t: EditTimeline, e: Edit) => number | undefined) =>
    edits.flatMap((e) => {
      const v = e.timeline ? f(e.timeline, e) : undefined;
      return v === undefined || Number.isNaN(v) ? [] : [v];
    });
  const stages: [string, number[]][] = [
    ["PATCH sent → answered (not counted)", edits.map((e) => e.writeMs)],
    [
      "stored → compiled (operator: watch, debounce, compile)",
      split((t, e) => delta(e.storedAt, t.compiledAt)),
    ],
    ["  of which the compile", split((t) => t.compileMs)],
    [
      "compiled → published (the Secret write, as the operator saw it)",
      split((t) => delta(t.compiledAt, t.publishedAt)),
    ],
    [
      "compiled → loaded, the later replica (Secret written, watched, decoded, validated, built)",
      split((t) => Math.max(...t.loadedAt.map((l) => delta(t.compiledAt, l) ?? Number.NaN))),
    ],
    [
      "loaded → seen by the poll, each replica",
      edits.flatMap((e) =>
        e.servedMs.flatMap((ms, r) => {
          const loaded = e.timeline?.loadedAt[r];
          return loaded === undefined ? [] : [e.storedAt + ms - loaded];
        }),
      ),
    ],
  ];
  const p99 = percentile(every, 99);
  const slow = edits.filter((e) => Math.max(...e.servedMs) > TARGET_P99_MS);
  const meanForeign = (es: Edit[]) => es.reduce((a, e) => a + e.foreign, 0) / Math.max(1, es.length);
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const unmatched = edits.filter((e) => !e.timeline || e.timeline.loadedAt.includes(undefined)).length;
  const lines = [
    `## ${when} UTC · apply → served · ${cpus().length} × ${cpuModel()} · Node ${process.version}`,
    "",
    `- Method: bench/apply-to-served.ts. A real kube-apiserver and etcd, one operator and ${cfg.replicas} gateway replicas as local processes on this machine (Linux ${release()}), ${cfg.routes + 1} GatewayRoutes; ${edits.length} edits of one route's path, each a merge PATCH through the API (no kubectl), ${pauseMin}–${pauseMax} ms apart; every replica polled every ${cfg.pollMs} ms. Clock: from the PATCH's answer (stored) to the first 200 on the new path.`,
    "",
    ...table(
      ["stored → served (ms)", "p50", "p90", "p99", "max"],
      [
        row("by every replica", every),
        ...(cfg.replicas > 1
          ? Array.from({ length: cfg.replicas }, (_, r) =>
              row(
                `by gateway-${r + 1}`,
                edits.map((e) => e.servedMs[r] ?? 0),
              ),
            )
          : []),
      ],
    ),
    "",
    `Target: p99 ≤ ${TARGET_P99_MS} ms by every replica — ${p99 <= TARGET_P99_MS ? "met" : "missed"} (p99 ${p99.toFixed(0)} ms).`,
    "",
    `Other work on the machine (processes not the bench's, and steal) used ${meanForeign(edits).toFixed(2)} cores on average during the edits` +
      (slow.length > 0
        ? `, ${meanForeign(slow).toFixed(2)} during the ${slow.length} edit(s) slower than ${TARGET_P99_MS} ms` +
          (slow.length <= 10
            ? ` (${slow.map((e) => `${Math.max(...e.servedMs).toFixed(0)} ms`).join(", ")}).`
            : ".")
        : "."),
    "",
    "Where the time went (from the processes' log lines; each stage's percentiles over the edits):",
    "",
    ...table(
      ["stage (ms)", "p50", "p90", "p99", "max"],
      stages.filter(([, xs]) => xs.length > 0).map(([w, xs]) => row(w, xs)),
    ),
    ...(unmatched > 0
      ? ["", `${unmatched} edit(s) could not be followed through every log and are left out of the split.`]
      : []),
  ];
  return `${lines.join("\n")}\n`;
}

/** true once something answers HTTP at `url` (any status), undefined before. */
async function isListening(url: string): Promise<true | undefined> {
  try {
    await (await request(url)).body.dump();
    return true;
  } catch {
    return undefined;
  }
}

/** Waits until `file` has not grown for `quietMs`; returns how long that took (ms). */
async function quiet(file: string, quietMs: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  let size = -1;
  let since = start;
  while (performance.now() - since < quietMs) {
    if (performance.now() - start > timeoutMs) throw new Error(`${file} kept growing for ${timeoutMs} ms`);
    const now = statSync(file).size;
    if (now !== size) {
      size = now;
      since = performance.now();
    }
    await sleep(250);
  }
  return since - start;
}

function delta(from: number | undefined, to: number | undefined): number | undefined {
  return from === undefined || to === undefined ? undefined : to - from;
}
