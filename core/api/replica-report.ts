// The replica-report contract. Each gateway replica tells the operator what it serves: a
// coordination.k8s.io Lease of its own (one per replica, renewed while it runs), annotated
// with the snapshot version it serves and the last version it rejected and why. The operator sets `Programmed` only
// when every live replica serves a snapshot that contains an object's current generation.

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
