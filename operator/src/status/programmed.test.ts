import { describe, expect, it } from "vitest";
import type { ObjectStatus } from "../../../core/compile/status-book.ts";
import { ProgrammedTracker, type ReportLease } from "./programmed.ts";

const route = (generation: number, accepted = true): ObjectStatus => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  namespace: "shop",
  name: "users",
  conditions: [
    {
      type: "Accepted",
      status: accepted ? "True" : "False",
      reason: accepted ? "Accepted" : "Invalid",
      message: "",
      observedGeneration: generation,
    },
  ],
});

const NOW = Date.parse("2026-11-22T10:00:00Z");
const lease = (
  identity: string,
  serving?: string,
  rejected?: [string, string],
  renewedAgoMs = 1000,
): ReportLease => ({
  metadata: {
    name: `sluice-gateway-${identity}`,
    annotations: {
      ...(serving ? { "sluice.dev/serving-version": serving } : {}),
      ...(rejected
        ? { "sluice.dev/rejected-version": rejected[0], "sluice.dev/rejected-reason": rejected[1] }
        : {}),
    },
  },
  spec: {
    holderIdentity: identity,
    leaseDurationSeconds: 30,
    renewTime: new Date(NOW - renewedAgoMs).toISOString(),
  },
});

describe("ProgrammedTracker", () => {
  it("is Programmed only when every live replica serves a version containing the current generation", () => {
    const t = new ProgrammedTracker();
    t.record("v1", [route(1)]);
    t.record("v2", [route(2)]);
    const { live } = ProgrammedTracker.replicas([lease("a", "v2"), lease("b", "v1")], NOW);
    const c = t.condition(route(2), live, "v2");
    expect(c).toMatchObject({ status: "False", reason: "Pending", observedGeneration: 2 });
    expect(c.message).toBe("Served by 1/2 gateway replicas; replica b serves v1.");
    const both = ProgrammedTracker.replicas([lease("a", "v2"), lease("b", "v2")], NOW).live;
    expect(t.condition(route(2), both, "v2")).toMatchObject({
      status: "True",
      reason: "Programmed",
      message: "Served by 2/2 gateway replicas.",
    });
  });

  it("names a replica that rejected the latest snapshot, with its reason", () => {
    const t = new ProgrammedTracker();
    t.record("v1", [route(1)]);
    t.record("v2", [route(2)]);
    const { live } = ProgrammedTracker.replicas([lease("a", "v2"), lease("b", "v1", ["v2", "too big"])], NOW);
    const c = t.condition(route(2), live, "v2");
    expect(c).toMatchObject({ status: "False", reason: "Rejected" });
    expect(c.message).toBe("Served by 1/2 gateway replicas; replica b rejected snapshot v2: too big.");
  });

  it("ignores expired reports and says when none is left; never Programmed when not accepted", () => {
    const t = new ProgrammedTracker();
    t.record("v1", [route(1)]);
    const seen = ProgrammedTracker.replicas([lease("old", "v0", undefined, 31_000), lease("a", "v1")], NOW);
    expect(seen.live.map((r) => r.identity)).toEqual(["a"]);
    expect(seen.nextExpiry).toBe(NOW - 1000 + 30_000);
    expect(t.condition(route(1), [], "v1")).toMatchObject({ status: "False", reason: "Pending" });
    expect(t.condition(route(1, false), seen.live, "v1")).toMatchObject({
      status: "False",
      reason: "Invalid",
    });
  });
});
