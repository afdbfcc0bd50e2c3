// What every proxy target of a bench run talks to, started once per run on the load core
// (core 1), never on the proxy's: the upstream, an OTLP receiver for the traced target, and
// a redis-server when a target limits in Redis. Shared by run.ts and paired.ts.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../test-support/index.ts";
import { LOAD_CPU } from "./load.ts";
import { cpusAllowed, startProc, waitUntilAnswers } from "./procs.ts";
import { type TargetContext, UPSTREAMS } from "./targets.ts";

export interface Backdrop {
  upstream: TargetContext["upstream"];
  /** The upstream's CPUs, read back. */
  upstreamCpus: string;
  otlpEndpoint: string;
  /** OTLP export requests received so far. */
  spansReceived(): number;
  /** Set when a target needs Redis. */
  redis?: { url: string; cli: (...args: string[]) => string };
}

export async function startBackdrop(opts: {
  root: string;
  scratch: string;
  upstream: string;
  redis: boolean;
}): Promise<Backdrop> {
  const startUpstream = UPSTREAMS[opts.upstream];
  if (!startUpstream)
    throw new Error(`BENCH_UPSTREAM=${opts.upstream}: use one of ${Object.keys(UPSTREAMS)}`);
  const upPort = await freePort();
  const upstream = { host: "127.0.0.1", port: upPort, url: `http://127.0.0.1:${upPort}` };
  const dir = join(opts.scratch, "upstream");
  mkdirSync(dir, { recursive: true });
  const upCtx = {
    root: opts.root,
    dir,
    upstream,
    port: upPort,
    adminPort: 0,
    otlpEndpoint: "",
    redisUrl: "",
  };
  const up = startProc("upstream", startUpstream(upCtx), dir, LOAD_CPU);
  await waitUntilAnswers(`${upstream.url}/`, up);

  // The OTLP receiver for sluice-traced: in this process, not on the proxy's core; it only
  // drains bodies.
  let spans = 0;
  const otlp = createServer((req, res) => {
    req.on("data", () => {});
    req.on("end", () => {
      spans++;
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => otlp.listen(0, "127.0.0.1", resolve));
  otlp.unref();

  const backdrop: Backdrop = {
    upstream,
    upstreamCpus: cpusAllowed(up.child.pid),
    otlpEndpoint: `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`,
    spansReceived: () => spans,
  };
  if (opts.redis) {
    const port = await freePort();
    const redisDir = join(opts.scratch, "redis");
    mkdirSync(redisDir, { recursive: true });
    const proc = startProc(
      "redis",
      ["redis-server", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", redisDir],
      redisDir,
      LOAD_CPU,
    );
    const cli = (...args: string[]) =>
      spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout ?? "";
    for (let i = 0; i < 50 && !cli("PING").includes("PONG"); i++) await sleep(100);
    if (proc.done) throw new Error("redis-server did not start (is it installed? make system-packages)");
    backdrop.redis = { url: `redis://127.0.0.1:${port}`, cli };
  }
  return backdrop;
}
