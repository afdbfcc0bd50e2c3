// --workers 2: the real CLI, a primary and two worker processes on one listen port (the
// kernel spreads connections, SO_REUSEPORT). Both workers serve, the one admin listener
// answers for both (metrics summed, /status per worker), a reload reaches every worker before
// /readyz says so, an in-memory rate limit holds across workers, a killed worker is
// replaced while the other serves, and SIGTERM drains them all.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { cleanupAfterAll, eventually, sleep } from "../../test-support/index.ts";
import { pool, route, startUpstream, type Upstream } from "./harness.ts";
import { spawnGateway } from "./spawned-gateway.ts";

const LIMIT = 20;
const CONNECTIONS = 32;
const { defer } = cleanupAfterAll();

interface Status {
  version: string;
  workers: { index: number; pid: number; listening: boolean; serving: string; connections: number }[];
}

let upstream: Upstream;
let dir: string;
let gateway: ChildProcess;
let url: string;
let admin: string;

/**
 * The resources; `tag` goes into a response header, so a reload shows in every answer.
 * `extra` routes make a snapshot that takes a worker a while to receive and build.
 */
function writeResources(tag: string, extra = 0) {
  const objects = [
    ...Array.from({ length: extra }, (_, i) =>
      route(`extra-${i}`, { hostnames: [`extra-${i}.test`], rules: [{ backendRefs: [{ name: "app" }] }] }),
    ),
    pool("app", [upstream.port]),
    route("open", {
      hostnames: ["open.test"],
      rules: [
        {
          backendRefs: [{ name: "app" }],
          filters: [
            {
              type: "ResponseHeaderModifier",
              responseHeaderModifier: { set: [{ name: "x-config", value: tag }] },
            },
          ],
        },
      ],
    }),
    route("limited", { hostnames: ["limited.test"], rules: [{ backendRefs: [{ name: "app" }] }] }),
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "RateLimitPolicy",
      metadata: { name: "limited", namespace: "test" },
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "limited" }],
        // Closed: an unanswered check would be a 503, never an extra 200.
        failureMode: "Closed",
        rules: [
          {
            name: "all",
            key: { type: "ClientIP" },
            algorithm: "FixedWindow",
            limit: { requests: LIMIT, per: "1h" },
          },
        ],
      },
    },
  ];
  writeFileSync(join(dir, "resources.yaml"), objects.map((o) => stringify(o)).join("---\n"));
}

const json = async <T>(path: string): Promise<T> => {
  const res = await request(`${admin}${path}`);
  return (await res.body.json()) as T;
};

/** `total` requests to `host`, CONNECTIONS at a time over one pool of keep-alive connections. */
async function load(host: string, total: number, agent = new Agent({ connections: CONNECTIONS })) {
  const statuses: number[] = [];
  const tags = new Set<string>();
  let next = 0;
  const client = async () => {
    while (next < total) {
      next++;
      const res = await request(`${url}/`, { headers: { host }, dispatcher: agent });
      await res.body.dump();
      statuses.push(res.statusCode);
      tags.add(String(res.headers["x-config"]));
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, client));
  return { statuses, tags, agent };
}

const count = (statuses: number[], code: number) => statuses.filter((s) => s === code).length;

interface ProcStat {
  cpuSeconds: number;
  rssBytes: number;
  startSeconds: number;
}
/** A process's CPU time, resident memory and start (Unix seconds), as Linux counts them. */
function procStat(pid: number): ProcStat {
  const ticks = 100; // USER_HZ: 100 on every Linux we run on (getconf CLK_TCK)
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // from field 3, the state
  const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
  const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticks,
    rssBytes: rssKb * 1024,
    startSeconds: bootSeconds + Number(fields[19]) / ticks,
  };
}

beforeAll(async () => {
  // Slow enough that CONNECTIONS requests at once need CONNECTIONS connections.
  upstream = await startUpstream("app", (req, res) => {
    req.resume();
    setTimeout(() => res.end("ok"), req.url === "/slow" ? 600 : 5);
  });
  defer(() => upstream.close());
  dir = mkdtempSync(join(tmpdir(), "sluice-workers-"));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  writeResources("one");
  const spawned = await spawnGateway(
    dir,
    ["--workers", "2", "--drain-ms", "3000"],
    (body) => body.workers === 2, // the gateway and both workers ready
  );
  gateway = spawned.child;
  defer(() => gateway.kill("SIGKILL"));
  url = spawned.url;
  admin = spawned.admin;
}, 60_000);

describe("--workers 2", () => {
  it("both workers serve, and /metrics counts every request once", async () => {
    const { statuses, agent } = await load("open.test", 300);
    expect(count(statuses, 200)).toBe(300);
    // The pool's keep-alive connections are still open: the kernel spread them over both.
    const status = await json<Status>("/status");
    expect(status.workers.map((w) => w.listening)).toEqual([true, true]);
    for (const w of status.workers) expect(w.connections, `worker ${w.index}`).toBeGreaterThan(0);
    expect(status.workers.reduce((n, w) => n + w.connections, 0)).toBe(CONNECTIONS);
    await agent.close();
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    expect(metrics).toContain('sluice_requests_total{route="test/open",method="GET",status_class="2xx"} 300');
    expect(metrics).toContain('sluice_workers{state="listening"} 2');
    // The primary's snapshot load, not one per worker.
    expect(metrics).toContain('sluice_snapshot_reloads_total{result="loaded"} 1');
  });

  it("an in-memory rate limit holds across both workers", async () => {
    const { statuses, agent } = await load("limited.test", 5 * LIMIT);
    const status = await json<Status>("/status");
    for (const w of status.workers) expect(w.connections, `worker ${w.index}`).toBeGreaterThan(0);
    await agent.close();
    expect(count(statuses, 200)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(4 * LIMIT);
  });

  it("/readyz reports a new snapshot only once every worker serves it", async () => {
    const before = (await json<Status>("/status")).version;
    writeResources("two", 3000);
    const version = await eventually(
      "/readyz to report the new snapshot",
      async () => {
        const r = await json<{ ready: boolean; version: string }>("/readyz");
        return r.ready && r.version !== before && r.version;
      },
      { timeoutMs: 10_000 },
    );
    // At once, over new connections spread over both workers: every answer is the new one.
    const { statuses, tags, agent } = await load("open.test", 200);
    await agent.close();
    expect(count(statuses, 200)).toBe(200);
    expect([...tags]).toEqual(["two"]);
    const status = await json<Status>("/status");
    expect(status.version).toBe(version);
    expect(status.workers.map((w) => w.serving)).toEqual([version, version]);
  });

  it("a killed worker is replaced while the other keeps serving", async () => {
    const [victim, survivor] = (await json<Status>("/status")).workers;
    if (!victim || !survivor) throw new Error("two workers expected");
    await request(`${admin}/metrics`).then((r) => r.body.dump()); // what each worker has counted so far
    process.kill(victim.pid, "SIGKILL");
    // From when the primary has seen it go until its replacement listens, requests on new
    // connections all reach the survivor.
    await eventually("the primary to see the worker exit", async () => {
      const { workers } = await json<Status>("/status");
      return !workers.some((w) => w.pid === victim.pid);
    });
    const statuses: number[] = [];
    let replaced = false;
    const traffic = (async () => {
      while (!replaced) {
        const agent = new Agent({ connections: 1 });
        const res = await request(`${url}/`, { headers: { host: "open.test" }, dispatcher: agent });
        await res.body.dump();
        await agent.close();
        statuses.push(res.statusCode);
        await sleep(5);
      }
    })();
    const replacement = await eventually(
      "a replacement worker to listen",
      async () => {
        const { workers } = await json<Status>("/status");
        const fresh = workers.find((w) => w.index === victim.index && w.pid !== victim.pid && w.listening);
        return workers.length === 2 && fresh;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    replaced = true;
    await traffic;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(replacement.serving).toBe(survivor.serving);
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    expect(metrics).toContain("sluice_worker_restarts_total 1");
    // What the killed worker had counted stays in the totals: 300 + 200 before, and these.
    const served = Number(/route="test\/open",method="GET",status_class="2xx"\} (\d+)/.exec(metrics)?.[1]);
    expect(served).toBe(500 + statuses.length);
    expect((await request(`${admin}/readyz`)).statusCode).toBe(200);
  });

  // After the restart above: one worker started seconds after the primary.
  it("/metrics has the pod's process metrics: CPU and memory of every process, the pod's start and one process's fd limit", async () => {
    const { workers } = await json<Status>("/status");
    const pids = [gateway.pid as number, ...workers.map((w) => w.pid)];
    const scrape = async () => {
      const text = await (await request(`${admin}/metrics`)).body.text();
      /** The one sample of an unlabelled metric. */
      const value = (name: string) => {
        const lines = text.split("\n").filter((l) => l.startsWith(`${name} `));
        expect(lines, name).toHaveLength(1);
        return Number(lines[0]?.slice(name.length + 1));
      };
      return { text, value };
    };
    const cpu = () => pids.map(procStat).reduce((n, p) => n + p.cpuSeconds, 0);
    // CPU: rate(process_cpu_seconds_total) is the primary's and both workers' together.
    const [cpu0, metric0] = [cpu(), (await scrape()).value("process_cpu_seconds_total")];
    await (await load("open.test", 1500)).agent.close();
    const { text, value } = await scrape();
    const used = cpu() - cpu0;
    const counted = value("process_cpu_seconds_total") - metric0;
    expect(counted / used).toBeGreaterThan(0.8);
    expect(counted / used).toBeLessThan(1.2);
    // Memory: what the three processes hold together (RSS moves a little between reads).
    const rss = pids.map(procStat).reduce((n, p) => n + p.rssBytes, 0);
    expect(value("process_resident_memory_bytes") / rss).toBeGreaterThan(0.8);
    expect(value("process_resident_memory_bytes") / rss).toBeLessThan(1.25);
    // The pod started when the primary did (prom-client alone would leave the metric out).
    expect(
      Math.abs(value("process_start_time_seconds") - procStat(pids[0] as number).startSeconds),
    ).toBeLessThan(1.5);
    // A file-descriptor limit is each process's: not three processes' limits added up.
    const limit = Number(
      /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${gateway.pid}/limits`, "utf8"))?.[1],
    );
    expect(value("process_max_fds")).toBe(limit);
    expect(text).toMatch(/^nodejs_version_info\{version="v[\d.]+",major="\d+",minor="\d+",patch="\d+"\} 1$/m);
    value("nodejs_eventloop_lag_p99_seconds");
  });

  it("SIGTERM drains every worker: requests under way finish, then the primary exits 0", async () => {
    const { workers } = await json<Status>("/status");
    const slow = Array.from({ length: 8 }, async () => {
      const agent = new Agent({ connections: 1 });
      const res = await request(`${url}/slow`, { headers: { host: "open.test" }, dispatcher: agent });
      const body = await res.body.text();
      await agent.close();
      return { status: res.statusCode, connection: res.headers.connection, body };
    });
    await sleep(150); // under way on both workers
    const exited = new Promise<number | null>((resolve) => gateway.once("exit", (code) => resolve(code)));
    gateway.kill("SIGTERM");
    await eventually("/readyz to say draining", async () => {
      const r = await request(`${admin}/readyz`).catch(() => undefined);
      return (
        r !== undefined && r.statusCode === 503 && ((await r.body.json()) as { draining: boolean }).draining
      );
    });
    for (const r of await Promise.all(slow))
      expect(r).toEqual({ status: 200, connection: "close", body: "ok" });
    expect(await exited).toBe(0);
    for (const w of workers) expect(() => process.kill(w.pid, 0), `worker ${w.pid}`).toThrow();
  });
});
