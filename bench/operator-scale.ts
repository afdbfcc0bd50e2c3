// The operator at scale (issue 18 §2): how much it keeps resident in a cluster with many
// Secrets that are none of its business, and what churn it did not cause costs it.
//
//   node bench/operator-scale.ts
//
// - A throwaway etcd + kube-apiserver (bench/testenv.ts), the CRDs and config/rbac; the
//   operator as a local process run the way the image runs it (built JavaScript, the
//   Dockerfile's node flags and malloc setting: targets.ts sluiceCommand), as its
//   ServiceAccount.
// - BENCH_SECRETS unrelated Secrets of BENCH_SECRET_KB each (random data) in a namespace no
//   Sluice object refers to, and a world of BENCH_OBJECTS Sluice objects: 10 % BackendPools
//   (one of them on a Service with an EndpointSlice), 40 % GatewayRoutes, 40 % ApiKeys, each
//   with its own Secret, 10 % RateLimitPolicies.
// - Memory: the leader's resident set (VmRSS) once it has published and written every
//   status, and its peak (VmHWM); then a standby started into the same cluster, whose peak is
//   what a fresh replica's memory limit must allow (issue 18: ≤ 150 MiB).
// - Churn: BENCH_CHURN updates of an EndpointSlice no pool uses, of an unrelated Secret, then
//   of the EndpointSlice a pool uses, BENCH_CHURN_GAP_MS apart; the compiles each caused, from
//   sluice_operator_compile_duration_seconds_count.
//
// Env: BENCH_SECRETS=10000  BENCH_SECRET_KB=30  BENCH_OBJECTS=1000  BENCH_CHURN=20
//      BENCH_CHURN_GAP_MS=250  BENCH_OUT=docs/benchmarks.md ("-": stdout only)  BENCH_KEEP=1
//      BENCH_MEMORY_LIMIT_MIB=<the chart's operator limit> (0: none)
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import { installCrds, ROOT } from "../e2e/harness/install.ts";
import { KubeClient } from "../e2e/harness/kube-client.ts";
import { serviceAccountKubeconfig } from "../e2e/harness/service-account.ts";
import { SluiceProcesses } from "../e2e/harness/sluice-processes.ts";
import { benchMemoryLimit } from "./memory-limit.ts";
import { cpuModel } from "./proxy/cpu.ts";
import { type HeapSample, heapSample, PROBE, type ProcMemory, procMemory } from "./proxy/memory.ts";
import { table, writeMarkdown } from "./proxy/report.ts";
import { sluiceCommand } from "./proxy/targets.ts";
import { runOnTestenv, type Testenv } from "./testenv.ts";

const RSS_TARGET_MIB = 150;
const NS = "bench-world";
const UNRELATED = "bench-unrelated";
const SYSTEM = "sluice-system";
const env = process.env;
const cfg = {
  secrets: Number(env.BENCH_SECRETS ?? 10_000),
  secretKb: Number(env.BENCH_SECRET_KB ?? 30),
  objects: Number(env.BENCH_OBJECTS ?? 1_000),
  churn: Number(env.BENCH_CHURN ?? 20),
  gapMs: Number(env.BENCH_CHURN_GAP_MS ?? 250),
  out: env.BENCH_OUT ?? "docs/benchmarks.md",
};

// In a memory cgroup of the chart's operator limit, as its pod runs (Node sizes V8's heap
// from it; bench/memory-limit.ts).
const command = sluiceCommand(ROOT);
const limit = benchMemoryLimit(ROOT, "operator");
const procs = new SluiceProcesses([...limit.prefix, ...command]);
await runOnTestenv("operator-scale", procs, main);

interface Churn {
  what: string;
  updates: number;
  compiles: number;
}

async function main(testenv: Testenv) {
  const kube = new KubeClient(testenv.kubeconfig);
  const api = ApiClient.load(testenv.kubeconfig);
  await installCrds(kube, [NS, UNRELATED, SYSTEM]);
  const post = async (path: string, object: unknown) => {
    const res = await kube.send("POST", path, object);
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const inBatches = async (n: number, make: (i: number) => Promise<void>) => {
    for (let i = 0; i < n; i += 20)
      await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => make(i + k)));
  };

  const started = performance.now();
  const blob = randomBytes(cfg.secretKb * 1024).toString("base64");
  await inBatches(cfg.secrets, (i) =>
    post(`/api/v1/namespaces/${UNRELATED}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `unrelated-${i}` },
      data: { blob },
    }),
  );
  console.error(`${cfg.secrets} unrelated Secrets in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const svc of ["used", "unused"]) {
    await post(`/api/v1/namespaces/${NS}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: svc },
      spec: { ports: [{ name: "http", port: 80 }] },
    });
    await post(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, slice(svc, 1));
  }
  await post(`/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "unread" },
    stringData: { note: "no Sluice object refers to this one" },
  });
  const counts = world(cfg.objects);
  const base = `/apis/sluice.dev/v1alpha1/namespaces/${NS}`;
  await inBatches(counts.pools, (i) => post(`${base}/backendpools`, pool(i)));
  await inBatches(counts.routes, (i) => post(`${base}/gatewayroutes`, route(i, counts.pools)));
  await inBatches(counts.keys, async (i) => {
    await post(`/api/v1/namespaces/${NS}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `key-${i}` },
      stringData: { key: `sk_bench_${i}_${randomBytes(12).toString("hex")}` },
    });
    await post(`${base}/apikeys`, {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "ApiKey",
      metadata: { name: `key-${i}` },
      spec: { secretRef: { name: `key-${i}`, key: "key" }, consumer: `consumer-${i}` },
    });
  });
  await inBatches(counts.policies, (i) => post(`${base}/ratelimitpolicies`, policy(i, counts.routes)));
  console.error(
    `world of ${cfg.objects} Sluice objects ready after ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  const kubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  // The leader carries the memory probe (memory-probe.mjs): where its resident memory is.
  const probeOut = join(procs.logs, "leader-heap.json");
  process.env.NODE_OPTIONS = `--import=${PROBE}`;
  process.env.PROBE_OUT = probeOut;
  const leader = await procs.operator("operator", kubeconfig, SYSTEM);
  delete process.env.NODE_OPTIONS;
  delete process.env.PROBE_OUT;
  const leaderLog = join(procs.logs, "operator.log");
  await until(
    "the leader to publish",
    () => existsSync(leaderLog) && readFileSync(leaderLog, "utf8").includes('"snapshot published"'),
    600_000,
  );
  await quiet(leaderLog, 3_000, 600_000);
  const leaderMemory = procMemory(leader.child.pid ?? 0);
  const heap = await heapSample(leader.child.pid ?? 0, probeOut);
  const live = await heapSample(leader.child.pid ?? 0, probeOut, true);

  const compiles = async () => {
    const text = await (await fetch(`${leader.admin}/metrics`)).text();
    return Number(/^sluice_operator_compile_duration_seconds_count (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  const churn: Churn[] = [];
  const measureChurn = async (what: string, path: string, patch: (i: number) => unknown) => {
    const before = await compiles();
    for (let i = 0; i < cfg.churn; i++) {
      const res = await api.exchange("PATCH", path, patch(i), "application/merge-patch+json");
      if (res.status !== 200) throw new Error(`PATCH ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      await sleep(cfg.gapMs);
    }
    await sleep(1_000);
    churn.push({ what, updates: cfg.churn, compiles: (await compiles()) - before });
  };
  const slicePath = (svc: string) => `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/${svc}-1`;
  const addresses = (i: number) => ({ endpoints: slice("x", i + 2).endpoints });
  await measureChurn("an EndpointSlice no pool uses", slicePath("unused"), addresses);
  await measureChurn("a Secret no object refers to", `/api/v1/namespaces/${NS}/secrets/unread`, (i) => ({
    stringData: { note: `update ${i}` },
  }));
  await measureChurn("the EndpointSlice a pool uses", slicePath("used"), addresses);

  const standby = await procs.operator("standby", kubeconfig, SYSTEM);
  await until(
    "the standby to be ready",
    async () => (await fetch(`${standby.admin}/readyz`).catch(() => undefined))?.ok,
    600_000,
  );
  await sleep(2_000);
  const standbyMemory = procMemory(standby.child.pid ?? 0);

  const text = report(leaderMemory, standbyMemory, { heap, live }, churn, counts);
  console.log(`\n${text}`);
  if (cfg.out !== "-") {
    writeMarkdown(cfg.out, text);
    console.error(`written to ${cfg.out}`);
  }
}

function world(objects: number) {
  const pools = Math.max(1, Math.round(objects * 0.1));
  const policies = Math.round(objects * 0.1);
  const routes = Math.round(objects * 0.4);
  return { pools, routes, keys: objects - pools - policies - routes, policies };
}

function slice(service: string, n: number) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${service}-1`, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: Array.from({ length: 3 }, (_, k) => ({
      addresses: [`10.${(n >> 8) & 255}.${n & 255}.${k + 1}`],
      conditions: { ready: true },
    })),
  };
}

function pool(i: number) {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    metadata: { name: `pool-${i}` },
    spec:
      i === 0
        ? { service: { name: "used", port: 80 } }
        : { endpoints: [{ address: `10.1.${(i >> 8) & 255}.${i & 255}`, port: 8080 }] },
  };
}

function route(i: number, pools: number) {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    metadata: { name: `route-${i}` },
    spec: {
      rules: [
        {
          name: "main",
          matches: [{ path: { type: "PathPrefix", value: `/svc-${i}` } }],
          backendRefs: [{ name: `pool-${i % pools}` }],
        },
      ],
    },
  };
}

function policy(i: number, routes: number) {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "RateLimitPolicy",
    metadata: { name: `limit-${i}` },
    spec: {
      targetRefs: [{ kind: "GatewayRoute", name: `route-${i % routes}` }],
      rules: [{ name: "all", key: { type: "ClientIP" }, limit: { requests: 100, per: "1s" } }],
    },
  };
}

async function until(what: string, check: () => unknown, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what} (logs in ${procs.logs})`);
    await sleep(200);
  }
}

/** Waits until `file` has not grown for `quietMs`. */
async function quiet(file: string, quietMs: number, timeoutMs: number) {
  let size = -1;
  let since = performance.now();
  await until(
    `${file} to be quiet`,
    () => {
      const now = statSync(file).size;
      if (now !== size) {
        size = now;
        since = performance.now();
      }
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
  );
}

function report(
  leader: ProcMemory,
  standby: ProcMemory,
  { heap, live }: { heap: HeapSample; live: HeapSample },
  churn: Churn[],
  counts: ReturnType<typeof world>,
): string {
  const mib = (v: number) => v.toFixed(0);
  const verdict = (v: number) => (v <= RSS_TARGET_MIB ? "met" : "missed");
  return [
    `## ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · operator at scale`,
    "",
    `- Method: bench/operator-scale.ts. ${cfg.secrets.toLocaleString("en-US")} unrelated Secrets of ${cfg.secretKb} KB, ` +
      `${cfg.objects.toLocaleString("en-US")} Sluice objects (${counts.pools} BackendPools, ${counts.routes} GatewayRoutes, ` +
      `${counts.keys} ApiKeys with a Secret each, ${counts.policies} RateLimitPolicies) on a throwaway kube-apiserver; the operator ` +
      `run as the image runs it: \`${command.map((w) => w.replace(ROOT, ".")).join(" ")} operator …\`, as its ServiceAccount, ${limit.report}`,
    `- Machine: ${cpus().length} CPUs (${cpuModel()}), Linux ${release()}. Target: ≤ ${RSS_TARGET_MIB} MiB (issue 18).`,
    "",
    ...table(
      ["operator", "RSS MiB", "peak MiB", `≤ ${RSS_TARGET_MIB} MiB (peak)`],
      [
        [
          "leader, after publishing and writing every status",
          mib(leader.rss),
          mib(leader.hwm),
          verdict(leader.hwm),
        ],
        [
          "standby started into that cluster, once ready",
          mib(standby.rss),
          mib(standby.hwm),
          verdict(standby.hwm),
        ],
      ],
    ),
    "",
    "Where the leader's resident memory is (MiB; V8 heap from memory-probe.mjs):",
    "",
    ...table(
      [
        "mapped files",
        "V8 heap allocated",
        "new space",
        "heap used",
        "live after full GC",
        "external",
        "rest",
      ],
      [
        [
          mib(leader.file),
          mib(heap.heapTotal),
          mib(heap.spaces.new_space ?? 0),
          mib(heap.heapUsed),
          mib(live.heapUsed),
          mib(heap.external),
          mib(leader.rss - leader.file - heap.heapTotal - heap.external),
        ],
      ],
    ),
    "",
    ...table(
      ["churn", "updates", "compiles"],
      churn.map((c) => [c.what, String(c.updates), String(c.compiles)]),
    ),
    "",
  ].join("\n");
}
