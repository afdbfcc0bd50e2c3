// --snapshot-secret: in a cluster, the operator's snapshot Secret, watched; and this
// replica's report of what it serves (and what it rejected), which the operator reads to
// set Programmed. One API client for both.
import { hostname } from "node:os";
import type { Logger } from "pino";
import { ApiClient } from "../../../core/kubernetes/api-client.ts";
import { ReplicaReporter } from "../../../core/kubernetes/replica-reporter.ts";
import { watchSnapshotSecret } from "../../../core/sources/secret-source.ts";
import type { SnapshotSink, SnapshotSource } from "./source.ts";

export interface SecretSourceSettings {
  /** NAMESPACE/NAME of the snapshot Secret. */
  secret: string;
  kubeconfig?: string | undefined;
  /** This replica's name in its report; default hostname-pid. */
  identity?: string | undefined;
}

export function startSnapshotSecretSource(
  settings: SecretSourceSettings,
  loader: SnapshotSink,
  log: Logger,
): SnapshotSource {
  const [namespace = "", name = ""] = settings.secret.split("/");
  const client = ApiClient.load(settings.kubeconfig);
  const reporter = new ReplicaReporter({
    client,
    namespace,
    identity: settings.identity ?? `${hostname()}-${process.pid}`,
    leaseDurationSeconds: 30,
    report: () => ({
      serving: loader.status.version,
      rejected: loader.status.lastRejected,
      apiKeyUsage: loader.current?.auth.usage.read(),
    }),
    onError: (err) => log.warn({ err: String(err) }, "replica report failed; retrying"),
  });
  reporter.start();
  // With --workers, a snapshot is served once every worker has it: report it then.
  loader.onServed?.(() => reporter.update());
  const watch = watchSnapshotSecret({
    namespace,
    name,
    client,
    onSnapshot: (candidate, from) => {
      loader.load(candidate, from);
      reporter.update();
    },
    onError: (err) =>
      log.warn(
        { err: String(err) },
        "snapshot Secret (or one of its chunks) unreadable: retrying; the last good snapshot keeps serving",
      ),
  });
  return {
    // The watch delivers every change itself.
    reload: () => {},
    // Withdraw the report before exiting, so the operator stops waiting for this replica.
    close: () => Promise.all([watch.stop(), reporter.stop()]).then(() => {}),
  };
}
