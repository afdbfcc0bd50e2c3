// The gateway process's configuration, from (in rising precedence) defaults, a YAML/JSON
// file (--config), SLUICE_* environment variables and flags. Checked at start; a bad
// value stops the process with a message that names the setting.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { type Static, Type } from "@sinclair/typebox";
import { createAjv } from "../../core/api/ajv.ts";
import { ConfigInvalidError } from "../../core/api/errors.ts";
import type { RateLimitStoreConfig } from "./ratelimit/create-limiter.ts";

const Address = (description: string, fallback: string) =>
  Type.String({ pattern: "^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$", default: fallback, description });

export const GatewayConfigSchema = Type.Object(
  {
    listen: Address("Data-plane listen address, HOST:PORT.", "0.0.0.0:8080"),
    adminListen: Address("Admin listener (/healthz, /readyz, /status), HOST:PORT.", "127.0.0.1:9901"),
    configDir: Type.Optional(
      Type.String({
        minLength: 1,
        description: "Standalone mode: directory of YAML resources to compile and watch.",
      }),
    ),
    snapshotFile: Type.Optional(
      Type.String({ minLength: 1, description: "A compiled snapshot (JSON) to serve and watch." }),
    ),
    snapshotSecret: Type.Optional(
      Type.String({
        pattern: "^[a-z0-9-]+/[a-z0-9.-]+$",
        description: "In a cluster: NAMESPACE/NAME of the Secret the operator publishes the snapshot to.",
      }),
    ),
    identity: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          "This replica's name in its report to the operator (default: hostname-pid; POD_NAME in the chart).",
      }),
    ),
    kubeconfig: Type.Optional(
      Type.String({ minLength: 1, description: "Kubeconfig for --snapshot-secret (default: in-cluster)." }),
    ),
    trustedHops: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: 0,
      description: "Proxies in front that append to X-Forwarded-For and are trusted.",
    }),
    maxHeaderBytes: Type.Integer({
      minimum: 1024,
      maximum: 1048576,
      default: 16384,
      description: "Largest request head (request line and headers).",
    }),
    maxBodyBytes: Type.Integer({
      minimum: 0,
      default: 1073741824,
      description: "Largest request body; 0 for no limit.",
    }),
    headersTimeoutMs: Type.Integer({
      minimum: 1,
      default: 10000,
      description: "Time a client has to send the request head.",
    }),
    requestTimeoutMs: Type.Integer({
      minimum: 0,
      default: 300000,
      description: "Time a client has to send the whole request; 0 for none.",
    }),
    bodyIdleTimeoutMs: Type.Integer({
      minimum: 0,
      default: 10000,
      description:
        "Longest pause between bytes of a request body before the gateway answers 408 and closes the connection; 0 for none.",
    }),
    maxRequestsPerClient: Type.Integer({
      minimum: 0,
      default: 256,
      description:
        "Most requests in flight from one client address (after --trusted-hops); beyond it the gateway answers 429; 0 for no limit.",
    }),
    headersWithUnderscores: Type.Unsafe<"drop" | "reject" | "allow">({
      type: "string",
      enum: ["drop", "reject", "allow"],
      default: "drop",
      description:
        "Request headers whose names contain '_' (CGI, WSGI and PHP read x_user_id as x-user-id): drop them before forwarding, reject the request (400), or allow them.",
    }),
    securityHeaders: Type.Boolean({
      default: true,
      description:
        "Add the --hsts, --content-type-options, --frame-options, --frame-ancestors and --referrer-policy headers to every response, the gateway's own included.",
    }),
    hsts: Type.String({
      default: "max-age=31536000",
      description: "Strict-Transport-Security, on a TLS listener only; empty to send none.",
    }),
    contentTypeOptions: Type.String({
      default: "nosniff",
      description: "X-Content-Type-Options; empty to send none.",
    }),
    frameOptions: Type.String({
      default: "DENY",
      description: "X-Frame-Options; empty to send none.",
    }),
    frameAncestors: Type.String({
      default: "'none'",
      description: "Sent as Content-Security-Policy: frame-ancestors VALUE; empty to send none.",
    }),
    referrerPolicy: Type.String({
      default: "no-referrer",
      description: "Referrer-Policy; empty to send none.",
    }),
    keepAliveTimeoutMs: Type.Integer({
      minimum: 1,
      default: 5000,
      description: "How long an idle client connection stays open.",
    }),
    drainMs: Type.Integer({
      minimum: 0,
      default: 10000,
      description: "On SIGTERM, how long in-flight requests may take to finish.",
    }),
    tlsCertFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "PEM certificate chain: the data-plane listener speaks HTTPS; re-read when the file changes.",
      }),
    ),
    tlsKeyFile: Type.Optional(
      Type.String({ minLength: 1, description: "PEM private key for --tls-cert-file." }),
    ),
    metrics: Type.Boolean({
      default: true,
      description: "Prometheus metrics on the admin listener's /metrics.",
    }),
    accessLog: Type.Boolean({
      default: true,
      description: "One JSON access-log line per request on stdout.",
    }),
    adminToken: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          "Bearer token for the admin listener's changing endpoints (log level, rate-limit reset); without it they answer only loopback clients.",
      }),
    ),
    redisUrl: Type.Optional(
      Type.String({
        pattern: "^rediss?://",
        description:
          "Rate limits shared by every replica in one Redis (redis:// or rediss://). None: in memory, per replica.",
      }),
    ),
    redisPassword: Type.Optional(
      Type.String({ minLength: 1, description: "Redis password (Sentinel and Cluster modes)." }),
    ),
    redisSentinels: Type.Optional(
      Type.String({
        minLength: 1,
        description: "Sentinel mode: comma-separated HOST:PORT of the sentinels.",
      }),
    ),
    redisSentinelName: Type.Optional(
      Type.String({ minLength: 1, description: "Sentinel mode: the master's name." }),
    ),
    redisSentinelPassword: Type.Optional(
      Type.String({ minLength: 1, description: "Sentinel mode: the sentinels' password." }),
    ),
    redisClusterNodes: Type.Optional(
      Type.String({ minLength: 1, description: "Cluster mode: comma-separated HOST:PORT seed nodes." }),
    ),
    redisTimeoutMs: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 50,
      description: "Bound on one rate-limit call to Redis; past it the policy's failureMode decides.",
    }),
    authFailureLimit: Type.Integer({
      minimum: 0,
      default: 10,
      description:
        "Brute-force protection: refused credentials from one client (or consumer) per window before it is blocked; 0 turns it off.",
    }),
    authFailureWindowMs: Type.Integer({
      minimum: 1000,
      default: 60000,
      description: "The window for --auth-failure-limit.",
    }),
    authFailureBlockMs: Type.Integer({
      minimum: 1000,
      default: 300000,
      description: "How long a client (or consumer) over --auth-failure-limit is refused (429).",
    }),
    workers: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description:
          "Gateway processes sharing the listen port (default: the container's CPU limit, rounded up, or 1 without one). Above 1, a primary process runs the snapshot source and the admin listener for all of them (docs/adr/0005-workers.md).",
      }),
    ),
    apiKeyHashKey: Type.String({
      minLength: 1,
      default: "sluice-standalone",
      description: "Key for hashing API keys (must match the operator's).",
    }),
  },
  { additionalProperties: false },
);
export type GatewayConfig = Static<typeof GatewayConfigSchema>;

const FLAGS = {
  config: { type: "string" },
  listen: { type: "string" },
  "admin-listen": { type: "string" },
  "config-dir": { type: "string" },
  "snapshot-file": { type: "string" },
  "snapshot-secret": { type: "string" },
  kubeconfig: { type: "string" },
  identity: { type: "string" },
  "trusted-hops": { type: "string" },
  "max-header-bytes": { type: "string" },
  "max-body-bytes": { type: "string" },
  "headers-timeout-ms": { type: "string" },
  "request-timeout-ms": { type: "string" },
  "body-idle-timeout-ms": { type: "string" },
  "max-requests-per-client": { type: "string" },
  "headers-with-underscores": { type: "string" },
  "security-headers": { type: "string" },
  hsts: { type: "string" },
  "content-type-options": { type: "string" },
  "frame-options": { type: "string" },
  "frame-ancestors": { type: "string" },
  "referrer-policy": { type: "string" },
  "keep-alive-timeout-ms": { type: "string" },
  "drain-ms": { type: "string" },
  "tls-cert-file": { type: "string" },
  "tls-key-file": { type: "string" },
  metrics: { type: "string" },
  "access-log": { type: "string" },
  "admin-token": { type: "string" },
  "redis-url": { type: "string" },
  "redis-password": { type: "string" },
  "redis-sentinels": { type: "string" },
  "redis-sentinel-name": { type: "string" },
  "redis-sentinel-password": { type: "string" },
  "redis-cluster-nodes": { type: "string" },
  "redis-timeout-ms": { type: "string" },
  "auth-failure-limit": { type: "string" },
  "auth-failure-window-ms": { type: "string" },
  "auth-failure-block-ms": { type: "string" },
  workers: { type: "string" },
} as const;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const env = (flag: string) => `SLUICE_${flag.toUpperCase().replaceAll("-", "_")}`;

const validate = createAjv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false }).compile(
  GatewayConfigSchema,
);

export function loadGatewayConfig(
  argv: string[],
  environment: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; args: string[]; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, strict: true });
  } catch (err) {
    throw new ConfigInvalidError((err as Error).message);
  }
  const values: Record<string, unknown> = {};
  const file = parsed.values.config ?? environment.SLUICE_CONFIG;
  if (file) {
    try {
      // yaml loads only for a --config file: a replica started by flags alone never holds it.
      const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
      Object.assign(values, yaml.parse(readFileSync(file, "utf8")));
    } catch (err) {
      throw new ConfigInvalidError(`--config ${file}: ${(err as Error).message}`);
    }
  }
  for (const flag of Object.keys(FLAGS)) {
    if (flag === "config") continue;
    const fromEnv = environment[env(flag)];
    if (fromEnv !== undefined) values[camel(flag)] = fromEnv;
    const fromFlag = (parsed.values as Record<string, string | undefined>)[flag];
    if (fromFlag !== undefined) values[camel(flag)] = fromFlag;
  }
  if (environment.SLUICE_API_KEY_HASH_KEY) values.apiKeyHashKey = environment.SLUICE_API_KEY_HASH_KEY;
  if (!validate(values)) {
    const problems = (validate.errors ?? []).map((e) => {
      const name =
        e.instancePath.slice(1) ||
        String((e.params as { additionalProperty?: string }).additionalProperty ?? "");
      const flag = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      return `--${flag} (${env(flag)}): ${e.message ?? e.keyword}`;
    });
    throw new ConfigInvalidError(problems.join("; "));
  }
  const config = values as GatewayConfig;
  if ([config.configDir, config.snapshotFile, config.snapshotSecret].filter(Boolean).length !== 1) {
    throw new ConfigInvalidError(
      "set exactly one of --config-dir (standalone), --snapshot-file or --snapshot-secret",
    );
  }
  const stores = [config.redisUrl, config.redisSentinels, config.redisClusterNodes].filter(Boolean).length;
  if (stores > 1) {
    throw new ConfigInvalidError(
      "set at most one of --redis-url, --redis-sentinels and --redis-cluster-nodes",
    );
  }
  if (Boolean(config.redisSentinels) !== Boolean(config.redisSentinelName)) {
    throw new ConfigInvalidError("--redis-sentinels and --redis-sentinel-name go together");
  }
  if (Boolean(config.tlsCertFile) !== Boolean(config.tlsKeyFile)) {
    throw new ConfigInvalidError("--tls-cert-file and --tls-key-file go together");
  }
  return config;
}

/** The rate-limit store the configuration names: Redis, Sentinel, Cluster, or none (memory). */
export function rateLimitStore(config: GatewayConfig): RateLimitStoreConfig {
  const list = (v: string) =>
    v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  const password = config.redisPassword ? { password: config.redisPassword } : {};
  return {
    timeoutMs: config.redisTimeoutMs,
    ...(config.redisUrl ? { url: config.redisUrl } : {}),
    ...(config.redisSentinels
      ? {
          sentinel: {
            sentinels: list(config.redisSentinels),
            name: config.redisSentinelName as string,
            ...password,
            ...(config.redisSentinelPassword ? { sentinelPassword: config.redisSentinelPassword } : {}),
          },
        }
      : {}),
    ...(config.redisClusterNodes ? { cluster: { nodes: list(config.redisClusterNodes), ...password } } : {}),
  };
}
