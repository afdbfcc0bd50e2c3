// ApiKey usage in status: each gateway replica reports per-key counts since it started and
// the last use (core/api/replica-report.ts); the operator adds the counts of the
// live replicas and takes the latest use. Folded into status at most once per interval, so
// a busy key costs the API server one status write per interval, not one per request.
import { API_KEY_USAGE_ANNOTATION } from "../../../core/api/replica-report.ts";
import type { ObjectStatus } from "../../../core/compile/status-book.ts";
import type { ReportLease } from "./programmed.ts";

export interface ApiKeyUsageStatus {
  /** Requests accepted with the key, summed over the live gateway replicas since they started. */
  requests: number;
  /** RFC 3339, whole seconds. */
  lastUsedTime: string;
}

/** namespace/name → usage, from the reports of the live replicas (a malformed report is skipped). */
export function sumApiKeyUsage(live: readonly ReportLease[]): Map<string, ApiKeyUsageStatus> {
  const sums = new Map<string, { requests: number; last: number }>();
  for (const lease of live) {
    const raw = lease.metadata.annotations?.[API_KEY_USAGE_ANNOTATION];
    if (!raw) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof parsed !== "object" || parsed === null) continue;
    for (const [id, value] of Object.entries(parsed)) {
      if (!Array.isArray(value)) continue;
      const [requests, last] = value as unknown[];
      if (typeof requests !== "number" || typeof last !== "number") continue;
      const sum = sums.get(id) ?? { requests: 0, last: 0 };
      sum.requests += requests;
      sum.last = Math.max(sum.last, last);
      sums.set(id, sum);
    }
  }
  return new Map(
    [...sums].map(([id, s]) => [
      id,
      { requests: s.requests, lastUsedTime: new Date(s.last * 1000).toISOString().replace(".000Z", "Z") },
    ]),
  );
}

/**
 * Puts usage on the ApiKey statuses (in place). `current` is the lastUsedTime already in the
 * cluster: it never moves back when the replica that saw the last use goes away.
 */
export function applyApiKeyUsage(
  statuses: ObjectStatus[],
  usage: ReadonlyMap<string, ApiKeyUsageStatus>,
  current: (namespace: string, name: string) => ApiKeyUsageStatus | undefined,
) {
  for (const s of statuses) {
    if (s.kind !== "ApiKey") continue;
    const reported = usage.get(`${s.namespace}/${s.name}`);
    const before = current(s.namespace, s.name);
    if (!reported && !before) continue;
    const last = [reported?.lastUsedTime, before?.lastUsedTime]
      .filter((t): t is string => !!t)
      .sort()
      .at(-1);
    s.usage = { requests: reported?.requests ?? before?.requests ?? 0, lastUsedTime: last ?? "" };
  }
}
