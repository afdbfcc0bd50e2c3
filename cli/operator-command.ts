// `sluice operator`: watches the cluster, compiles, publishes the snapshot Secret and
// writes status (leader-elected). Flags or SLUICE_* environment variables.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import { splitAddress } from "../gateway/src/config.ts";
import { startAdminServer } from "../operator/src/admin-server.ts";
import { startOperator } from "../operator/src/operator.ts";

const FLAGS = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  "snapshot-secret": { type: "string" },
  lease: { type: "string" },
  identity: { type: "string" },
  "debounce-ms": { type: "string" },
  "lease-duration-ms": { type: "string" },
  "renew-deadline-ms": { type: "string" },
  "retry-period-ms": { type: "string" },
  "admin-listen": { type: "string" },
  "usage-interval-ms": { type: "string" },
} as const;

export const OPERATOR_USAGE = `  sluice operator [--kubeconfig FILE] [--namespace NS] [--snapshot-secret NAME] [--lease NAME]
                  [--identity ID] [--debounce-ms N] [--lease-duration-ms N] [--renew-deadline-ms N] [--retry-period-ms N]
                  [--admin-listen HOST:PORT]   (/healthz, /readyz, /status, /metrics; default 127.0.0.1:9902)
                  [--usage-interval-ms N]      (ApiKey usage into status; default 60000)`;

export async function operatorCommand(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  const pick = (flag: keyof typeof FLAGS) =>
    (values as Record<string, string | undefined>)[flag] ??
    env[`SLUICE_${flag.toUpperCase().replaceAll("-", "_")}`];
  const number = (flag: keyof typeof FLAGS, fallback: number) => {
    const raw = pick(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`SLUICE_CONFIG_INVALID: --${flag}: must be a non-negative integer`);
    return n;
  };
  const admin = splitAddress(pick("admin-listen") ?? "127.0.0.1:9902");
  if (!admin.host || !Number.isInteger(admin.port) || admin.port < 0 || admin.port > 65535)
    throw new Error("SLUICE_CONFIG_INVALID: --admin-listen: must be HOST:PORT");
  const log = pino({ name: "sluice-operator", level: env.SLUICE_LOG_LEVEL ?? "info" });
  const operator = await startOperator({
    client: ApiClient.load(pick("kubeconfig")),
    namespace: pick("namespace") ?? env.POD_NAMESPACE ?? "sluice-system",
    snapshotSecret: pick("snapshot-secret") ?? "sluice-snapshot",
    leaseName: pick("lease") ?? "sluice-operator",
    identity: pick("identity") ?? `${hostname()}-${process.pid}`,
    apiKeyHashKey: env.SLUICE_API_KEY_HASH_KEY ?? "sluice-standalone",
    debounceMs: number("debounce-ms", 100),
    leaseDurationMs: number("lease-duration-ms", 15_000),
    renewDeadlineMs: number("renew-deadline-ms", 10_000),
    retryPeriodMs: number("retry-period-ms", 2_000),
    usageIntervalMs: number("usage-interval-ms", 60_000),
    log,
  });
  const adminServer = await startAdminServer(admin.host, admin.port, operator, log);
  log.info({ admin: adminServer.address, identity: operator.identity }, "operator admin listening");
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      void Promise.all([operator.stop(), adminServer.close()]).then(() => process.exit(0));
    });
  }
}
