// The operator's informers: the sluice kinds, Secrets, Services, EndpointSlices and (when the
// Gateway API's CRD is installed) ReferenceGrants in all namespaces
// (core/kubernetes/resource-store.ts), with their failures and relists logged and counted.
import type { Logger } from "pino";
import type { ApiClient } from "../../core/kubernetes/api-client.ts";
import { ResourceStore } from "../../core/kubernetes/resource-store.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";

export function watchCluster(
  client: ApiClient,
  onChange: () => void,
  metrics: OperatorMetrics,
  log: Logger,
): ResourceStore {
  return new ResourceStore(
    client,
    onChange,
    (kind, err) => {
      metrics.watchRestarted(kind);
      log.warn({ kind, err: String(err) }, "watch failed; restarting with backoff");
    },
    (kind) => metrics.listed(kind),
  );
}
