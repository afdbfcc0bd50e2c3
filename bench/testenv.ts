// The benches' throwaway API server: etcd + kube-apiserver started the way the e2e suite's
// global setup starts them (e2e/testenv/start-dev.sh; binaries built from Go modules once and
// cached in .cache/), and the process groups a bench counts as its own on a shared machine.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/harness/install.ts";
import type { SluiceProcesses } from "../e2e/harness/sluice-processes.ts";

export interface Testenv {
  kubeconfig: string;
  /** etcd's and the API server's process groups (each leads its own). */
  pgrps: Set<number>;
  stop(): void;
}

export function startTestenv(): Testenv {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = execFileSync(join(ROOT, "e2e/testenv/start-dev.sh"), [], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 60 * 60 * 1000,
      });
      const vars = Object.fromEntries(
        out
          .split("\n")
          .filter((l) => l.includes("="))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      const stop = vars.STOP;
      if (!vars.KUBECONFIG || !stop) throw new Error(`testenv did not start:\n${out}`);
      return {
        kubeconfig: vars.KUBECONFIG,
        pgrps: new Set([Number(vars.ETCD_PID), Number(vars.APISERVER_PID)]),
        stop: () => execFileSync(stop, [], { stdio: "inherit" }),
      };
    } catch (err) {
      // Its ports are picked free but can be taken before etcd binds them: try again then.
      if (attempt >= 3) throw err;
      console.error(`testenv did not start (attempt ${attempt}); trying again`);
    }
  }
}

/** This process's group: the bench and the processes it spawns. */
export function ownProcessGroup(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/**
 * Runs a bench on a throwaway API server: starts it, hands it to `main`, and on the way out
 * (an error or a signal included) stops the Sluice processes and the server. The processes'
 * logs are kept when the bench failed or BENCH_KEEP=1; exit code 1 on failure.
 */
export async function runOnTestenv(
  name: string,
  procs: SluiceProcesses,
  main: (testenv: Testenv) => Promise<void>,
): Promise<void> {
  let testenv: Testenv | undefined;
  let failed = false;
  const cleanUp = async () => {
    await procs.stopAll(2_000);
    testenv?.stop();
    testenv = undefined;
    if (failed || process.env.BENCH_KEEP === "1") console.error(`logs kept in ${procs.logs}`);
    else rmSync(procs.logs, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      console.error(`\n${signal}: stopping`);
      void cleanUp().then(() => process.exit(130));
    });
  try {
    testenv = startTestenv();
    await main(testenv);
  } catch (err) {
    failed = true;
    process.exitCode = 1;
    console.error(`${name} failed: ${(err as Error).stack ?? err}`);
  } finally {
    await cleanUp();
  }
}
