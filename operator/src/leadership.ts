// Leader election on a coordination.k8s.io/v1 Lease (core/kubernetes/leader-election.ts):
// only the leader publishes and writes status. Standbys keep their informers running, so
// they take over warm.
import type { Logger } from "pino";
import type { ApiClient } from "../../core/kubernetes/api-client.ts";
import { LeaderElector } from "../../core/kubernetes/leader-election.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";

export interface LeadershipOptions {
  client: ApiClient;
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metrics: OperatorMetrics;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export function electLeader(o: LeadershipOptions): LeaderElector {
  const { identity, metrics, log } = o;
  return new LeaderElector({
    client: o.client,
    namespace: o.namespace,
    name: o.leaseName,
    identity,
    leaseDurationMs: o.leaseDurationMs,
    renewDeadlineMs: o.renewDeadlineMs,
    retryPeriodMs: o.retryPeriodMs,
    onStartedLeading: () => {
      o.onStartedLeading();
      metrics.leading(true);
      log.info({ identity }, "leading");
    },
    onStoppedLeading: () => {
      o.onStoppedLeading();
      metrics.leading(false);
      log.warn({ identity }, "no longer leading");
    },
    log: (msg, fields) => log.debug(fields ?? {}, msg),
  });
}
