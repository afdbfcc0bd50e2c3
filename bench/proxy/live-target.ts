// Starting the targets of a bench run (run.ts, latency.ts): each target's command pinned to
// the proxy's core, then checked to answer with the upstream's body — a proxy answering
// something else (its own 404, an error page) would be benched doing that. A target whose
// command fails or never answers is skipped with the reason, so the others still run.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../test-support/index.ts";
import { underGatewayLimit } from "../memory-limit.ts";
import type { Backdrop } from "./backdrop.ts";
import { cpusAllowed, httpGet, type Proc, startProc, stopProc, waitUntilAnswers } from "./procs.ts";
import { TARGETS, type Target, type TargetContext } from "./targets.ts";
import { BODY } from "./upstream.ts";

/** The proxy under test runs alone on this core; load generator and upstream share the other. */
export const PROXY_CPU = "0";

export interface LiveTarget {
  name: string;
  target: Target;
  /** Where the load goes: the target's port, or the upstream itself for `direct`. */
  url: string;
  /** null for `direct`: nothing runs between the load generator and the upstream. */
  proc: Proc | null;
  /** The CPUs its process may use (the upstream's for `direct`), read back from /proc. */
  cpus: string;
}

/** The targets a comma-separated list names, in its order; an unknown name is an error. */
export function targetsNamed(list: string): Target[] {
  const names = list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown target(s) ${unknown}; known: ${TARGETS.map((t) => t.name)}`);
  return names.map((n) => TARGETS.find((t) => t.name === n) as Target);
}

export async function startTarget(
  target: Target,
  root: string,
  scratch: string,
  backdrop: Backdrop,
): Promise<{ live: LiveTarget } | { skipped: string }> {
  const { name } = target;
  const ctx = await targetContext(name, root, scratch, backdrop);
  const argv = target.command(ctx);
  const proc = argv ? startProc(name, underGatewayLimit(root, name, argv), ctx.dir, PROXY_CPU) : null;
  const path = target.path ?? "/";
  const url = proc ? `http://127.0.0.1:${ctx.port}${path}` : `${backdrop.upstream.url}${path}`;
  try {
    if (proc) {
      await waitUntilAnswers(url, proc, 15_000, target.headers);
      const res = await httpGet(url, 1000, target.headers);
      if (res.body.toString() !== BODY)
        throw new Error(`answered HTTP ${res.status} without the upstream's body`);
    }
    const cpus = proc ? cpusAllowed(proc.child.pid) : backdrop.upstreamCpus;
    console.error(`${name}: ${argv ? argv.join(" ") : "(no proxy)"}; CPUs ${cpus}`);
    return { live: { name, target, url, proc, cpus } };
  } catch (err) {
    console.error(`${name}: SKIPPED, ${(err as Error).message}\n`);
    if (proc) await stopProc(proc);
    return { skipped: `\`${argv?.join(" ")}\` did not start: ${firstLine((err as Error).message)}` };
  }
}

/** One line for the report: the first line and the first error line of the log after it. */
function firstLine(s: string): string {
  const [head = "", ...log] = s.split("\n");
  const why = log.find((l) => /error/i.test(l)) ?? log.at(-1) ?? "";
  return `${head} ${why.trim()}`.slice(0, 300);
}

/** A target's context: its own scratch directory (made here), two free ports, the backdrop's services. */
export async function targetContext(
  name: string,
  root: string,
  scratch: string,
  backdrop: Backdrop,
): Promise<TargetContext> {
  const ctx: TargetContext = {
    root,
    dir: join(scratch, name),
    upstream: backdrop.upstream,
    port: await freePort(),
    adminPort: await freePort(),
    otlpEndpoint: backdrop.otlpEndpoint,
    redisUrl: backdrop.redis?.url ?? "",
  };
  mkdirSync(ctx.dir, { recursive: true });
  return ctx;
}
