// Gateway replicas report what they serve (and what they rejected) in Leases labelled
// sluice.dev/gateway-report, in the operator's namespace. A change there only re-evaluates
// status (Programmed, ApiKey usage); it never recompiles.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { REPORT_LABEL } from "../../core/api/replica-report.ts";
import type { ApiClient } from "../../core/kubernetes/api-client.ts";
import { createInformer, type Informer } from "../../core/kubernetes/informer.ts";
import type { OperatorMetrics } from "./operator-metrics.ts";

export function watchGatewayReports(
  client: ApiClient,
  namespace: string,
  onChange: () => void,
  metrics: OperatorMetrics,
  log: Logger,
): Informer<KubernetesObject> {
  return createInformer<KubernetesObject>(
    client,
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    { labelSelector: `${REPORT_LABEL}=true` },
    {
      add: onChange,
      update: onChange,
      delete: onChange,
      synced: () => {
        metrics.listed("GatewayReport");
        onChange();
      },
      error: (err) => {
        metrics.watchRestarted("GatewayReport");
        log.warn({ err: String(err) }, "gateway report watch failed; restarting");
      },
    },
  );
}
