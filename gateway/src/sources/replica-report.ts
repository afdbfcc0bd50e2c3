// Each gateway replica tells the operator what it serves: a coordination.k8s.io Lease of
// its own (one per replica, renewed while it runs), annotated with the snapshot version it
// serves and the last version it rejected and why. The operator sets `Programmed` only
// when every live replica serves a snapshot that contains an object's current generation.
import { type ApiClient, ApiError } from "../../../operator/src/kubernetes/api-client.ts";
import { microTime } from "../../../operator/src/kubernetes/leader-election.ts";

export const REPORT_LABEL = "sluice.dev/gateway-report";
export const SERVING_ANNOTATION = "sluice.dev/serving-version";
export const REJECTED_ANNOTATION = "sluice.dev/rejected-version";
export const REJECTED_REASON_ANNOTATION = "sluice.dev/rejected-reason";
/** {"namespace/name": [requests, lastUsedEpochSeconds]}, counted since this replica started. */
export const API_KEY_USAGE_ANNOTATION = "sluice.dev/api-key-usage";
/** Annotations share 256 KiB: the most recently used keys are reported, at most this many. */
export const MAX_REPORTED_KEYS = 2000;

export interface ReplicaReport {
  serving: string | undefined;
  rejected: { version: string | undefined; reason: string } | undefined;
  apiKeyUsage?: ReadonlyArray<{ id: string; requests: number; lastUsedMs: number }>;
}

/** The usage annotation's value: the most recently used keys first, bounded. */
export function encodeApiKeyUsage(usage: NonNullable<ReplicaReport["apiKeyUsage"]>): string {
  const recent = [...usage].sort((a, b) => b.lastUsedMs - a.lastUsedMs).slice(0, MAX_REPORTED_KEYS);
  return JSON.stringify(
    Object.fromEntries(recent.map((u) => [u.id, [u.requests, Math.floor(u.lastUsedMs / 1000)]])),
  );
}

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
