// `sluice operator`: watches the cluster, compiles, publishes the snapshot Secret and
// writes status (leader-elected). Flags or SLUICE_* environment variables.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { splitAddress } from "../core/admin/address.ts";
import { createLogger } from "../core/admin/log-format.ts";
import { ConfigInvalidError, hasCode } from "../core/api/errors.ts";
import { type Budgets, parseBudgets } from "../core/compile/budgets.ts";
import { ApiClient } from "../core/kubernetes/api-client.ts";
import { checkLeaderElectionTimes } from "../core/kubernetes/leader-election.ts";
import { startOperatorAdmin } from "../operator/src/admin-server.ts";
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
  "require-hostname-ownership": { type: "boolean" },
  budgets: { type: "string" },
} as const;

export const OPERATOR_USAGE = `  sluice operator [--kubeconfig FILE] [--namespace NS] [--snapshot-secret NAME] [--lease NAME]
                  [--identity ID] [--debounce-ms N] [--lease-duration-ms N] [--renew-deadline-ms N] [--retry-period-ms N]
                  [--admin-listen HOST:PORT]   (/healthz, /readyz, /status, /metrics; default 127.0.0.1:9902)
                  [--usage-interval-ms N]      (ApiKey usage into status; default 60000)
                  [--require-hostname-ownership] (refuse route host names no HostnameOwnership covers)
                  [--budgets NAME=N,…]         (size budgets per object and namespace; docs/operator.md)`;

export interface OperatorSettings {
  kubeconfig: string | undefined;
  namespace: string;
  snapshotSecret: string;
  leaseName: string;
  identity: string;
  apiKeyHashKey: string;
  debounceMs: number;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  usageIntervalMs: number;
  requireHostnameOwnership: boolean;
  budgets: Partial<Budgets>;
  admin: { host: string; port: number };
  logLevel: string;
}

/**
 * Flags (or SLUICE_* variables) to settings. Every bad value throws ConfigInvalidError before
 * anything starts, so `sluice operator` prints usage and exits 2 like `sluice gateway`.
 */
export function operatorSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorSettings {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true }).values;
  } catch (err) {
    throw new ConfigInvalidError((err as Error).message);
  }
  const pick = (flag: keyof typeof FLAGS) =>
    (values[flag] as string | undefined) ?? env[`SLUICE_${flag.toUpperCase().replaceAll("-", "_")}`];
  const number = (flag: keyof typeof FLAGS, fallback: number) => {
    const raw = pick(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new ConfigInvalidError(`--${flag}: must be a non-negative integer`);
    return n;
  };
  const flag = (name: keyof typeof FLAGS) => {
    const raw = values[name] ?? env[`SLUICE_${name.toUpperCase().replaceAll("-", "_")}`] ?? false;
    if (typeof raw === "boolean" || raw === "true" || raw === "false") return raw === true || raw === "true";
    throw new ConfigInvalidError(`SLUICE_${name.toUpperCase().replaceAll("-", "_")}: must be true or false`);
  };
  const admin = splitAddress(pick("admin-listen") ?? "127.0.0.1:9902");
  if (!admin.host || !Number.isInteger(admin.port) || admin.port < 0 || admin.port > 65535)
    throw new ConfigInvalidError("--admin-listen: must be HOST:PORT");
  const times = {
    leaseDurationMs: number("lease-duration-ms", 15_000),
    renewDeadlineMs: number("renew-deadline-ms", 10_000),
    retryPeriodMs: number("retry-period-ms", 2_000),
  };
  try {
    checkLeaderElectionTimes(times);
  } catch (err) {
    if (!hasCode(err, "SLUICE_INVALID_ARGUMENT")) throw err;
    // Named with the values as given, so a crash-looping pod's log says which setting to fix
    // (the chart refuses the same combinations at render time: charts/sluice/templates/_validate.tpl).
    throw new ConfigInvalidError(
      `${(err as Error).message} (--lease-duration-ms=${times.leaseDurationMs}, ` +
        `--renew-deadline-ms=${times.renewDeadlineMs}, --retry-period-ms=${times.retryPeriodMs}; ` +
        "or SLUICE_LEASE_DURATION_MS, SLUICE_RENEW_DEADLINE_MS, SLUICE_RETRY_PERIOD_MS)",
    );
  }
  return {
    kubeconfig: pick("kubeconfig"),
    namespace: pick("namespace") ?? env.POD_NAMESPACE ?? "sluice-system",
    snapshotSecret: pick("snapshot-secret") ?? "sluice-snapshot",
    leaseName: pick("lease") ?? "sluice-operator",
    identity: pick("identity") ?? `${hostname()}-${process.pid}`,
    apiKeyHashKey: env.SLUICE_API_KEY_HASH_KEY ?? "sluice-standalone",
    debounceMs: number("debounce-ms", 100),
    ...times,
    usageIntervalMs: number("usage-interval-ms", 60_000),
    requireHostnameOwnership: flag("require-hostname-ownership"),
    budgets: parseBudgets(pick("budgets") ?? ""),
    admin,
    logLevel: env.SLUICE_LOG_LEVEL ?? "info",
  };
}

export async function operatorCommand(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { kubeconfig, admin, logLevel, ...settings } = operatorSettings(argv, env);
  const log = createLogger("sluice-operator", logLevel);
  const operator = await startOperator({ client: ApiClient.load(kubeconfig), ...settings, log });
  const adminServer = await startOperatorAdmin(admin.host, admin.port, operator, log);
  log.info({ admin: adminServer.address, identity: operator.identity }, "operator admin listening");
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      void Promise.all([operator.stop(), adminServer.close()]).then(() => process.exit(0));
    });
  }
}
