import { describe, expect, it } from "vitest";
import { API_KEY_USAGE_ANNOTATION, encodeApiKeyUsage } from "../../../core/api/replica-report.ts";
import type { ObjectStatus } from "../../../core/compile/status-book.ts";
import { applyApiKeyUsage, sumApiKeyUsage } from "./api-key-usage.ts";
import type { ReportLease } from "./programmed.ts";

const lease = (usage: string | undefined): ReportLease => ({
  metadata: { annotations: usage === undefined ? {} : { [API_KEY_USAGE_ANNOTATION]: usage } },
});
const status = (name: string): ObjectStatus => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "ApiKey",
  namespace: "ns",
  name,
  conditions: [],
});

describe("ApiKey usage from gateway reports", () => {
  it("adds the replicas' counts, takes the latest use, and skips malformed reports", () => {
    const a = encodeApiKeyUsage([
      { id: "ns/a", requests: 3, lastUsedMs: Date.parse("2026-11-22T10:00:00.900Z") },
      { id: "ns/b", requests: 1, lastUsedMs: Date.parse("2026-11-22T09:00:00Z") },
    ]);
    const b = encodeApiKeyUsage([
      { id: "ns/a", requests: 4, lastUsedMs: Date.parse("2026-11-22T11:00:00Z") },
    ]);
    const usage = sumApiKeyUsage([
      lease(a),
      lease(b),
      lease("not json"),
      lease('{"ns/a":"x"}'),
      lease(undefined),
    ]);
    expect(usage.get("ns/a")).toEqual({ requests: 7, lastUsedTime: "2026-11-22T11:00:00Z" });
    expect(usage.get("ns/b")).toEqual({ requests: 1, lastUsedTime: "2026-11-22T09:00:00Z" });
  });

  it("reports the most recently used keys first when there are too many", () => {
    const many = Array.from({ length: 2500 }, (_, i) => ({
      id: `ns/k${i}`,
      requests: 1,
      lastUsedMs: i * 1000,
    }));
    const decoded = JSON.parse(encodeApiKeyUsage(many)) as Record<string, unknown>;
    expect(Object.keys(decoded)).toHaveLength(2000);
    expect(decoded["ns/k2499"]).toEqual([1, 2499]);
    expect(decoded["ns/k0"]).toBeUndefined();
  });

  it("never moves lastUsedTime back, and keeps usage when no live replica reports the key", () => {
    const statuses = [status("a"), status("b"), status("never")];
    const reported = new Map([["ns/a", { requests: 2, lastUsedTime: "2026-11-22T08:00:00Z" }]]);
    applyApiKeyUsage(statuses, reported, (_ns, name) =>
      name === "a"
        ? { requests: 10, lastUsedTime: "2026-11-22T09:00:00Z" }
        : name === "b"
          ? { requests: 5, lastUsedTime: "2026-11-21T00:00:00Z" }
          : undefined,
    );
    expect(statuses[0]?.usage).toEqual({ requests: 2, lastUsedTime: "2026-11-22T09:00:00Z" });
    expect(statuses[1]?.usage).toEqual({ requests: 5, lastUsedTime: "2026-11-21T00:00:00Z" });
    expect(statuses[2]?.usage).toBeUndefined();
  });
});
