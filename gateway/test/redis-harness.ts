// Real Redis for integration tests: Debian's redis-server on 127.0.0.1, a free port, a
// temporary directory, no persistence. startRedisCluster(n) makes an n-master Redis Cluster
// with redis-cli --cluster create. Every server is stopped (and its directory removed) by
// stop(), and, as a backstop, when the test process exits.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const HOST = "127.0.0.1";

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** SIGKILL: the server vanishes without a goodbye, as in a crash. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (after kill or stop). */
  restart(): Promise<void>;
  /** SIGTERM, wait for exit, remove the directory. */
  stop(): Promise<void>;
  /** redis-cli against this server. */
  cli(...args: string[]): Promise<string>;
}

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  servers: RedisServer[];
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/**
 * A port that is free, and (for cluster nodes) whose bus port, port + 10000, is free too.
 * Picked at random in a range below the usual ephemeral ports, so two test files running
 * at once rarely collide; a collision surfaces as a start failure and is retried.
 */
async function redisPort(needBusPort: boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (!needBusPort || (await portFree(port + 10_000)))) return port;
  }
  throw new Error("no free port for redis-server");
}

function waitForReady(child: ChildProcess, timeoutMs: number, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => done(new Error(`redis-server not ready in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(marker)) done();
    };
    const onExit = (code: number | null) => done(new Error(`redis-server exited (${code}):\n${out}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

async function launch(port: number, dir: string, extra: string[], marker: string): Promise<ChildProcess> {
  // Sentinel needs a config file it can rewrite; it must come first on the command line.
  const config = extra[0]?.endsWith(".conf") ? [extra[0]] : [];
  const child = spawn(
    "redis-server",
    [
      ...config,
      "--port",
      String(port),
      "--bind",
      HOST,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      ...extra.slice(config.length),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  child.once("exit", () => live.delete(child));
  try {
    await waitForReady(child, 10_000, marker);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // Keep draining output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function startOn(
  extra: string[],
  cluster: boolean,
  marker = "Ready to accept connections",
): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await redisPort(cluster);
    const dir = mkdtempSync(join(tmpdir(), "sluice-redis-"));
    try {
      let child = await launch(port, dir, extra, marker);
      const server: RedisServer = {
        host: HOST,
        port,
        url: `redis://${HOST}:${port}`,
        async kill() {
          child.kill("SIGKILL");
          await exited(child);
        },
        async restart() {
          child.kill("SIGKILL");
          await exited(child);
          child = await launch(port, dir, extra, marker);
        },
        async stop() {
          child.kill("SIGTERM");
          await exited(child);
          rmSync(dir, { recursive: true, force: true });
        },
        async cli(...args: string[]) {
          const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(port), ...args]);
          return stdout;
        },
      };
      return server;
    } catch (error) {
      lastError = error;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

export function startRedis(): Promise<RedisServer> {
  return startOn([], false);
}

/**
 * A Sentinel watching `master` under `name` (quorum 1). Sentinel prints no "Ready" line, so
 * readiness is its answer to SENTINEL GET-MASTER-ADDR-BY-NAME.
 */
export async function startRedisSentinel(master: RedisServer, name = "sluice"): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-sentinel-"));
  const conf = join(dir, "sentinel.conf");
  writeFileSync(conf, `sentinel monitor ${name} ${master.host} ${master.port} 1\n`);
  const sentinel = await startOn([conf, "--sentinel"], false, "+monitor master").catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const stop = sentinel.stop;
  sentinel.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)).includes(String(master.port))) {
    if (Date.now() > deadline) throw new Error("sentinel does not know the master");
    await new Promise((r) => setTimeout(r, 100));
  }
  return sentinel;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startOn(
          [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
          ],
          true,
        ),
      );
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...servers.map((s) => `${s.host}:${s.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    const deadline = Date.now() + 20_000;
    for (const s of servers) {
      while (!(await s.cli("cluster", "info")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error("cluster did not reach cluster_state:ok");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: servers.map((s) => ({ host: s.host, port: s.port })), servers, stop };
}
