// What the proxy bench measures. A target is a command that, given the upstream's URL and a
// port to listen on, starts a proxy; run.ts pins it to core 0, waits until it answers on
// that port, and skips the target (with its log) when the command exits or never answers.
// Adding a proxy to the comparison is one more entry in TARGETS.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileDirectory, notAccepted } from "../../core/sources/directory-source.ts";
import { API_KEY, apiKeyAuth, benchToken, jwtAuth, moreApiKeys, redisLimit } from "./admission.ts";
import { BODY } from "./upstream.ts";

export interface TargetContext {
  root: string; // repository root, the working directory of every command
  dir: string; // scratch directory of this target (configs, pid files)
  upstream: { host: string; port: number; url: string };
  port: number; // where the target must listen (HTTP)
  adminPort: number; // a second free port, for targets with an admin listener
  otlpEndpoint: string; // an OTLP/HTTP receiver run by run.ts (off the proxy's core)
  redisUrl: string; // a redis-server run by run.ts on the load core, for targets that need it
}

export interface Target {
  name: string;
  about: string; // one line for the report
  /** Request path of the load (default "/"). */
  path?: string;
  /** argv to start; null: nothing to start, the load goes straight to the upstream. */
  command(ctx: TargetContext): string[] | null;
  /** Request headers every load request carries (credentials). */
  headers?: Record<string, string>;
  /** Needs the bench's Redis (ctx.redisUrl); its command count per request is reported. */
  redis?: boolean;
}

const SLUICE_PATH = "/svc-5/items/42";

let built: string | undefined;
/**
 * Sluice as the image runs it: the JavaScript scripts/build-dist.sh emits (built once per
 * bench run, into .cache) under the node flags of the Dockerfile's ENTRYPOINT and the
 * MALLOC_* settings of its ENV lines — or BENCH_SLUICE_CLI (e.g. another checkout's
 * cli/sluice.ts) the same way.
 */
export function sluiceCommand(root: string): string[] {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  const entrypoint = /^ENTRYPOINT \[(.*)\]$/m.exec(dockerfile)?.[1];
  const words = entrypoint ? (JSON.parse(`[${entrypoint}]`) as string[]) : [];
  const flags = words.slice(1).filter((w) => w.startsWith("--"));
  const malloc = [...dockerfile.matchAll(/^ENV (MALLOC_\w+=\S+)$/gm)].map((m) => m[1] as string);
  let cli = process.env.BENCH_SLUICE_CLI;
  if (!cli) {
    built ??= execFileSync(join(root, "scripts/build-dist.sh"), [join(root, ".cache/bench-dist")], {
      cwd: root,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .at(-1);
    cli = join(built ?? "", "cli/sluice.js");
  }
  return [...(malloc.length > 0 ? ["env", ...malloc] : []), process.execPath, ...flags, cli];
}

function sluiceTarget(
  name: string,
  routes: number,
  about: string,
  extra: {
    args?: (ctx: TargetContext) => string[];
    env?: (ctx: TargetContext) => string[];
    resources?: string[];
    headers?: Record<string, string>;
    redis?: boolean;
    /** Load a snapshot compiled here from the config directory (--snapshot-file), not the directory. */
    precompiled?: boolean;
  } = {},
): Target {
  return {
    name,
    about,
    path: SLUICE_PATH,
    ...(extra.headers ? { headers: extra.headers } : {}),
    ...(extra.redis ? { redis: true } : {}),
    command: (ctx) => {
      const configDir = join(ctx.dir, "config");
      writeSluiceConfig(configDir, ctx.upstream, routes, extra.resources);
      const env = [
        ...(extra.env?.(ctx) ?? []),
        ...(extra.precompiled ? [`SLUICE_API_KEY_HASH_KEY=${PRECOMPILED_HASH_KEY}`] : []),
      ];
      return [
        ...(env.length > 0 ? ["env", ...env] : []),
        // BENCH_SLUICE_CLI benches another build, or checks that a failing target is skipped.
        ...sluiceCommand(ctx.root),
        "gateway",
        ...(extra.precompiled
          ? ["--snapshot-file", precompile(configDir, join(ctx.dir, "snapshot.json"))]
          : ["--config-dir", configDir]),
        "--listen",
        `127.0.0.1:${ctx.port}`,
        "--admin-listen",
        `127.0.0.1:${ctx.adminPort}`,
        ...(extra.args?.(ctx) ?? []),
      ];
    },
  };
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
  sluiceTarget(
    "sluice",
    10,
    "Sluice gateway, 10 GatewayRoutes (PathPrefix /svc-N) to one BackendPool; metrics and access log on (the defaults)",
  ),
  sluiceTarget("sluice-quiet", 10, "the same with metrics and access log off: what they cost", {
    args: () => ["--metrics=false", "--access-log=false"],
  }),
  sluiceTarget(
    "sluice-traced",
    10,
    "the same with tracing on, every request sampled, exported over OTLP/HTTP",
    {
      env: (ctx) => [
        `OTEL_EXPORTER_OTLP_ENDPOINT=${ctx.otlpEndpoint}`,
        "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        "OTEL_TRACES_SAMPLER=always_on",
      ],
    },
  ),
  sluiceTarget(
    "sluice-limited",
    10,
    "the same with a Redis rate limit (TokenBucket per client) on the route",
    {
      args: (ctx) => ["--redis-url", ctx.redisUrl],
      resources: [redisLimit],
      redis: true,
    },
  ),
  sluiceTarget("sluice-apikey", 10, "the same with API-key authentication and an Allow rule on the route", {
    resources: [apiKeyAuth],
    headers: { "x-api-key": API_KEY },
  }),
  sluiceTarget(
    "sluice-full",
    10,
    "the full chain: JWT ES256 (inline key) + Allow rule + Redis rate limit + access log + metrics",
    {
      args: (ctx) => ["--redis-url", ctx.redisUrl],
      resources: [jwtAuth, redisLimit],
      headers: { authorization: `Bearer ${benchToken()}` },
      redis: true,
    },
  ),
  // Compared with sluice-apikey (paired.ts): the same key check on the same route, so the
  // ratio is what 10,000 routes and 10,000 keys cost, not what checking a key costs. The
  // snapshot is compiled here, as the operator compiles it for a replica in a cluster:
  // parsing and compiling 30,000 YAML objects at start took the gateway 7–14 s on the
  // 2-core machine, more than paired.ts waits for a target to answer (bench/proxy/scale.ts
  // measures both ways).
  sluiceTarget(
    "sluice-10k",
    10_000,
    "sluice-apikey with 10,000 GatewayRoutes and 10,000 ApiKeys (each with its Secret), loaded as a compiled snapshot: neither the router's nor the key check's cost may grow with them",
    {
      resources: [apiKeyAuth, ...moreApiKeys(9_999)],
      headers: { "x-api-key": API_KEY },
      precompiled: true,
    },
  ),
  {
    name: "minimal-undici",
    about: "node:http + undici dispatch with nothing else: the floor of Sluice's design",
    path: SLUICE_PATH,
    command: (ctx) => [process.execPath, "bench/proxy/minimal-undici.ts", ctx.upstream.url, String(ctx.port)],
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

/** The API-key hash key of the snapshots compiled here, given to the gateway that loads them. */
export const PRECOMPILED_HASH_KEY = "bench-precompiled";
const compiled = new Map<string, string>();

/**
 * Compiles `configDir` with the compile the gateway and the operator use, writes the snapshot
 * to `file` and returns it. A bench run starts the same target again and again (paired.ts:
 * every round) with the same resources, so each distinct directory is compiled once.
 */
export function precompile(configDir: string, file: string): string {
  const yaml = readFileSync(join(configDir, "bench.yaml"));
  const key = createHash("sha256").update(yaml).digest("hex");
  let json = compiled.get(key);
  if (json === undefined) {
    const { snapshot, statuses } = compileDirectory(configDir, PRECOMPILED_HASH_KEY);
    // A bench of half its objects would look fine: any object refused stops it.
    const refused = notAccepted(statuses);
    if (refused.length > 0)
      throw new Error(
        `${configDir}: ${refused.length} objects not accepted, e.g. ${JSON.stringify(refused[0])}`,
      );
    json = JSON.stringify(snapshot);
    compiled.set(key, json);
  }
  writeFileSync(file, json);
  return file;
}

/**
 * The Sluice resources of the bench: `routes` GatewayRoutes, each a PathPrefix /svc-N to the
 * one upstream. The request goes to /svc-5/items/42 (see SLUICE_PATH), so with 10 or with
 * 10,000 routes the router does the same lookup: what the 10k-routes row checks is that
 * its cost does not grow with the number of routes.
 */
function writeSluiceConfig(
  dir: string,
  upstream: TargetContext["upstream"],
  routes: number,
  extra: string[] = [],
): void {
  mkdirSync(dir, { recursive: true });
  const docs = [
    `apiVersion: sluice.dev/v1alpha1
kind: BackendPool
metadata: {name: upstream, namespace: bench}
spec:
  endpoints: [{address: "${upstream.host}", port: ${upstream.port}}]
`,
  ];
  for (let i = 0; i < routes; i++) {
    docs.push(`apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: svc-${i}, namespace: bench}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /svc-${i}}}]
      backendRefs: [{name: upstream}]
`);
  }
  docs.push(...extra);
  writeFileSync(join(dir, "bench.yaml"), docs.join("---\n"));
}
