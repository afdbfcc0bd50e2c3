// What the proxy bench measures. A target is a command that, given the upstream's URL and a
// port to listen on, starts a proxy; run.ts pins it to core 0, waits until it answers on
// that port, and skips the target (with its log) when the command exits or never answers.
// Adding a proxy to the comparison is one more entry in TARGETS.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BODY } from "./upstream.ts";

export interface TargetContext {
  root: string; // repository root, the working directory of every command
  dir: string; // scratch directory of this target (configs, pid files)
  upstream: { host: string; port: number; url: string };
  port: number; // where the target must listen (HTTP)
  adminPort: number; // a second free port, for targets with an admin listener
}

export interface Target {
  name: string;
  about: string; // one line for the report
  /** argv to start; null: nothing to start, the load goes straight to the upstream. */
  command(ctx: TargetContext): string[] | null;
}

export const TARGETS: Target[] = [
  {
    name: "direct",
    about: "no proxy: the load generator straight to the upstream (the ceiling)",
    command: () => null,
  },
  {
    name: "nginx",
    about: "Debian nginx, 1 worker, HTTP/1.1 keep-alive pool to the upstream",
    command: (ctx) => nginxCommand(ctx, "nginx-proxy.conf.tmpl"),
  },
  {
    name: "fastify",
    about: "@fastify/http-proxy defaults on Node (reply-from, undici pool)",
    command: (ctx) => [process.execPath, "bench/proxy/fastify-proxy.ts", ctx.upstream.url, String(ctx.port)],
  },
  {
    name: "sluice",
    about: "Sluice gateway serving a config dir with one BackendPool and one GatewayRoute",
    command: (ctx) => {
      const configDir = join(ctx.dir, "config");
      writeSluiceConfig(configDir, ctx.upstream);
      return [
        process.execPath,
        // Override to bench another build, or to check that a failing target is skipped.
        process.env.BENCH_SLUICE_CLI ?? "gateway/src/cli.ts",
        "gateway",
        "--config-dir",
        configDir,
        "--listen",
        `127.0.0.1:${ctx.port}`,
        "--admin-listen",
        `127.0.0.1:${ctx.adminPort}`,
      ];
    },
  },
];

/** Upstreams: the thing every target forwards to, pinned to core 1 with the load generator. */
export const UPSTREAMS: Record<string, (ctx: TargetContext) => string[]> = {
  // Default: a C server returning the body from memory costs core 1 the least CPU per
  // request, leaving the most for the load generator (see docs/benchmarks.md for numbers).
  nginx: (ctx) => nginxCommand(ctx, "nginx-upstream.conf.tmpl"),
  node: (ctx) => [process.execPath, "bench/proxy/upstream.ts", String(ctx.port)],
};

/** Renders an nginx template into ctx.dir and returns the command that runs it in the foreground. */
function nginxCommand(ctx: TargetContext, template: string): string[] {
  mkdirSync(ctx.dir, { recursive: true });
  const vars: Record<string, string> = {
    dir: ctx.dir,
    port: String(ctx.port),
    upstream: `${ctx.upstream.host}:${ctx.upstream.port}`,
    body: BODY.replaceAll("\n", "\\n"),
  };
  const text = readFileSync(join(import.meta.dirname, template), "utf8").replace(
    /\{\{(\w+)\}\}/g,
    (_, k: string) => vars[k] ?? `{{${k}}}`,
  );
  const conf = join(ctx.dir, "nginx.conf");
  writeFileSync(conf, text);
  // -p: prefix for relative paths; -e: the error log before the config is read (else /var/log).
  return ["nginx", "-p", ctx.dir, "-e", join(ctx.dir, "error.log"), "-c", conf];
}

/** The Sluice resources of the bench: every request on every host to the one upstream. */
function writeSluiceConfig(dir: string, upstream: TargetContext["upstream"]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "bench.yaml"),
    `apiVersion: sluice.dev/v1alpha1
kind: BackendPool
metadata: {name: upstream, namespace: bench}
spec:
  endpoints: [{address: "${upstream.host}", port: ${upstream.port}}]
---
apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: all, namespace: bench}
spec:
  rules:
    - backendRefs: [{name: upstream}]
`,
  );
}
