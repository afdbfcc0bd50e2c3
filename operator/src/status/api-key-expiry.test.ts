import { describe, expect, it } from "vitest";
import type { ObjectStatus } from "../../../core/compile/status-book.ts";
import { markExpiredApiKeys } from "./api-key-expiry.ts";

const key = (name: string, expiresAt?: string) => ({
  kind: "ApiKey",
  metadata: { namespace: "ns", name },
  spec: expiresAt ? { expiresAt } : {},
});
const status = (name: string, active: "True" | "False" = "True"): ObjectStatus => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "ApiKey",
  namespace: "ns",
  name,
  conditions: [
    { type: "Accepted", status: "True", reason: "Accepted", message: "" },
    { type: "Active", status: active, reason: active === "True" ? "Active" : "Disabled", message: "" },
  ],
});

describe("markExpiredApiKeys", () => {
  const now = Date.parse("2026-11-22T12:00:00Z");

  it("turns Active into Expired for keys whose expiresAt passed, and returns the next expiry", () => {
    const statuses = [status("old"), status("soon"), status("later"), status("forever")];
    const next = markExpiredApiKeys(
      statuses,
      [
        key("old", "2026-11-22T11:59:59Z"),
        key("soon", "2026-11-22T12:05:00Z"),
        key("later", "2026-12-01T00:00:00Z"),
        key("forever"),
      ],
      now,
    );
    expect(statuses[0]?.conditions[1]).toMatchObject({ status: "False", reason: "Expired" });
    expect(statuses[0]?.conditions[1]?.message).toContain("2026-11-22T11:59:59.000Z");
    expect(statuses[1]?.conditions[1]).toMatchObject({ status: "True", reason: "Active" });
    expect(statuses[3]?.conditions[1]).toMatchObject({ status: "True" });
    expect(next).toBe(Date.parse("2026-11-22T12:05:00Z"));
  });

  it("leaves a disabled key's reason alone, and an expiry exactly now counts as passed", () => {
    const statuses = [status("off", "False"), status("edge")];
    const next = markExpiredApiKeys(
      statuses,
      [key("off", "2020-01-01T00:00:00Z"), key("edge", "2026-11-22T12:00:00Z")],
      now,
    );
    expect(statuses[0]?.conditions[1]).toMatchObject({ status: "False", reason: "Disabled" });
    expect(statuses[1]?.conditions[1]).toMatchObject({ status: "False", reason: "Expired" });
    expect(next).toBeUndefined();
  });
});
