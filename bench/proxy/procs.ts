// Child processes of the proxy bench. Each one starts in its own process group (detached),
// so that stopping it also stops what it forked (nginx's worker), and every one still
// running is stopped on normal exit, on failure and on SIGINT/SIGTERM: a benchmark that
// leaves an nginx or a wrk behind skews the next run on a 2-core machine.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
  done: boolean;
}

const running = new Set<Proc>();

/** Whether `taskset` exists; without it processes run unpinned (and the report says so). */
export const hasTaskset = which("taskset") !== null;

export function which(cmd: string): string | null {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Where a pinned process's stdout is read: the load core. In a pod, stdout is a pipe that
 * containerd drains; a file opened by the process itself would put the file system's work
 * (the access log's 64 KiB writes: ~2.5 µs per request, measured) on the proxy's core.
 */
const STDOUT_READER_CPU = "1";

/**
 * Starts argv with stdout+stderr to `<logDir>/<name>.log`, pinned to `cpu` with taskset.
 * A pinned process writes its stdout into a pipe, as in a pod, which `cat` on the load core
 * copies to the log.
 */
export function startProc(name: string, argv: string[], logDir: string, cpu?: string): Proc {
  const log = join(logDir, `${name}.log`);
  // A fresh log each start, then appended to by both writers (the process's stderr, cat).
  writeFileSync(log, "");
  const fd = openSync(log, "a");
  const pinned = cpu !== undefined && hasTaskset;
  const cmd = pinned ? ["taskset", "-c", cpu, ...argv] : argv;
  const child = spawn(cmd[0] ?? "", cmd.slice(1), {
    detached: true,
    stdio: ["ignore", pinned ? "pipe" : fd, fd],
  });
  // cat ends by itself when the process (its only writer) exits, having copied everything.
  let copied: Promise<unknown> = Promise.resolve();
  if (pinned && child.stdout) {
    const reader = spawn("taskset", ["-c", STDOUT_READER_CPU, "cat"], { stdio: [child.stdout, fd, fd] });
    copied = new Promise((resolve) => {
      reader.once("exit", resolve);
      reader.once("error", resolve);
    });
    child.stdout.destroy(); // cat has its own copy
  }
  closeSync(fd); // the child has its own copy
  const proc: Proc = { name, child, log, done: false, exited: Promise.resolve(0) };
  proc.exited = new Promise((resolve) => {
    const finish = (how: number | string) => {
      proc.done = true;
      running.delete(proc);
      // Exited once the log holds all it wrote: a caller reads it next.
      copied.then(() => resolve(how));
    };
    child.once("exit", (code, signal) => finish(code ?? signal ?? "?"));
    child.once("error", (err) => finish(err.message)); // e.g. ENOENT: no exit event follows
  });
  running.add(proc);
  return proc;
}

/** SIGTERM to the whole group, SIGKILL after 3 s, and SIGKILL anyway for stray group members. */
export async function stopProc(p: Proc): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  killGroup(pid, "SIGTERM");
  await Promise.race([p.exited, sleep(3000)]);
  killGroup(pid, "SIGKILL");
  await p.exited;
}

/** Process groups of the running children (each one leads its own). */
export function groups(): Set<number> {
  return new Set([...running].flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid])));
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stopProc));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

// Last resort when the bench dies in a way that skips the awaited cleanup.
process.on("exit", () => {
  for (const p of running) if (p.child.pid !== undefined) killGroup(p.child.pid, "SIGKILL");
});
/** Set once SIGINT/SIGTERM arrived: the failures that follow are the stop, not a bug. */
export let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping ${running.size} child process(es)`);
    void stopAll().then(() => process.exit(130));
  });
}

/** Runs argv to completion (registered, so SIGINT stops it too) and returns its output. */
export async function runProc(name: string, argv: string[], logDir: string, cpu?: string): Promise<string> {
  const p = startProc(name, argv, logDir, cpu);
  const code = await p.exited;
  const out = readFileSync(p.log, "utf8");
  if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}:\n${out.slice(-2000)}`);
  return out;
}

export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** One GET on a fresh connection (no agent: the bench must not hold idle sockets open). */
export function httpGet(
  url: string,
  timeoutMs = 1000,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Polls `url` until it answers 2xx. Fails early, with the end of the log, when the process
 * exits first: that is how a target whose command does not exist yet (Sluice) is skipped.
 */
export async function waitUntilAnswers(
  url: string,
  p: Proc,
  timeoutMs = 15_000,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (p.done) {
      throw new Error(`${p.name} exited (${await p.exited}) before answering; its log ends:\n${tail(p.log)}`);
    }
    try {
      const res = await httpGet(url, 1000, headers);
      if (res.status >= 200 && res.status < 300) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(
    `${p.name} did not answer ${url} within ${timeoutMs} ms (last: ${last}); log:\n${tail(p.log)}`,
  );
}

/** The CPUs a running process may use, read back to prove the pinning took effect. */
export function cpusAllowed(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1] ?? "?";
  } catch {
    return "?";
  }
}

/**
 * A bench's workspace: the repository root, made the working directory (target commands are
 * relative to it), and a scratch directory for configs and logs, removed at exit unless the
 * run failed or BENCH_KEEP=1. `run(main)` runs the bench and stops every child process
 * however it ends.
 */
export function benchWorkspace(what: string) {
  const root = join(import.meta.dirname, "../..");
  process.chdir(root);
  const scratch = mkdtempSync(join(tmpdir(), `sluice-${what}-`));
  let failed = false;
  // Also on SIGINT, whose handler (above) exits without coming back to run().
  process.on("exit", () => {
    if (failed || process.env.BENCH_KEEP === "1") console.error(`configs and logs kept in ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  });
  const run = async (main: () => Promise<void>) => {
    try {
      await main();
    } catch (err) {
      if (!interrupted) {
        failed = true;
        console.error(`${what} failed: ${(err as Error).stack ?? err}`);
        process.exitCode = 1;
      }
    } finally {
      await stopAll();
    }
  };
  return { root, scratch, run };
}
