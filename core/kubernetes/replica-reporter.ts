// A gateway replica's report Lease, written and renewed while the replica runs (the
// contract — label, annotations, encoding — is core/api/replica-report.ts).
import {
  API_KEY_USAGE_ANNOTATION,
  encodeApiKeyUsage,
  REJECTED_ANNOTATION,
  REJECTED_REASON_ANNOTATION,
  REPORT_LABEL,
  type ReplicaReport,
  SERVING_ANNOTATION,
} from "../api/replica-report.ts";
import { type ApiClient, ApiError } from "./api-client.ts";
import { microTime } from "./leader-election.ts";

export interface ReplicaReporterOptions {
  client: ApiClient;
  namespace: string;
  identity: string;
  /** How long the report stays valid without renewal; renewed every third of it. */
  leaseDurationSeconds: number;
  report: () => ReplicaReport;
  onError: (err: unknown) => void;
}

export class ReplicaReporter {
  readonly #o: ReplicaReporterOptions;
  readonly #name: string;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #pending = false;

  constructor(o: ReplicaReporterOptions) {
    this.#o = o;
    this.#name = `sluice-gateway-${o.identity}`
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, "-")
      .slice(0, 253);
  }

  start() {
    this.update();
    this.#timer = setInterval(() => this.update(), Math.max(1000, (this.#o.leaseDurationSeconds * 1000) / 3));
    this.#timer.unref();
  }

  /** Sends the current report now (coalesced when one is on its way). */
  update() {
    if (this.#sending) {
      this.#pending = true;
      return;
    }
    this.#sending = this.#send()
      .catch(this.#o.onError)
      .finally(() => {
        this.#sending = undefined;
        if (this.#pending) {
          this.#pending = false;
          this.update();
        }
      });
  }

  async stop() {
    if (this.#timer) clearInterval(this.#timer);
    await this.#sending;
    // Gone: the operator no longer waits for this replica.
    await this.#o.client
      .send("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases/${this.#name}`)
      .catch(() => {});
  }

  async #send() {
    const { client, namespace, identity, leaseDurationSeconds } = this.#o;
    const { serving, rejected, apiKeyUsage } = this.#o.report();
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    const annotations: Record<string, string> = {};
    if (serving) annotations[SERVING_ANNOTATION] = serving;
    if (rejected) {
      if (rejected.version) annotations[REJECTED_ANNOTATION] = rejected.version;
      annotations[REJECTED_REASON_ANNOTATION] = rejected.reason.slice(0, 1024);
    }
    if (apiKeyUsage && apiKeyUsage.length > 0)
      annotations[API_KEY_USAGE_ANNOTATION] = encodeApiKeyUsage(apiKeyUsage);
    const body = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.#name, namespace, labels: { [REPORT_LABEL]: "true" }, annotations },
      spec: { holderIdentity: identity, leaseDurationSeconds, renewTime: microTime() },
    };
    try {
      const current = await client.send<{ metadata: { resourceVersion: string } }>(
        "GET",
        `${path}/${this.#name}`,
      );
      await client.send("PUT", `${path}/${this.#name}`, {
        ...body,
        metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion },
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      await client.send("POST", path, body);
    }
  }
}
