// Starts one real etcd + kube-apiserver for the e2e project (built from Go modules on
// first use by e2e/testenv/build.sh, then cached) and stops it after the last test file.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    /** Starts another kube-apiserver on the same etcd: `apiserver.sh PORT LOGFILE` prints its pid. */
    apiserverLauncher: string;
  }
}

const testenv = join(dirname(fileURLToPath(import.meta.url)), "../testenv");

export default function setup(project: TestProject) {
  // Ports are picked free but could be taken before etcd binds them: try again then.
  let out = "";
  for (let attempt = 1; ; attempt++) {
    try {
      out = execFileSync(join(testenv, "start-dev.sh"), [], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 60 * 60 * 1000,
      });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`testenv did not start (attempt ${attempt}); trying again`);
    }
  }
  const vars = Object.fromEntries(
    out
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  if (!vars.KUBECONFIG || !vars.STOP || !vars.APISERVER) throw new Error(`testenv did not start:\n${out}`);
  project.provide("kubeconfig", vars.KUBECONFIG);
  project.provide("apiserverLauncher", vars.APISERVER);
  return () => {
    execFileSync(vars.STOP as string, [], { stdio: "inherit" });
  };
}
