import { describe, expect, it } from "vitest";
import type { ConditionDraft, ObjectStatus } from "../../../core/compile/status-book.ts";
import { type ApiClient, ApiError } from "../../../core/kubernetes/api-client.ts";
import { desiredStatus, rfc3339, StatusWriter, sameStatus, withExtraConditions } from "./status-writer.ts";

const T0 = "2026-01-01T00:00:00Z";
const NOW = new Date("2026-02-03T04:05:06.789Z");
const NOW_S = "2026-02-03T04:05:06Z";

function draft(type: string, ok: boolean, reason = ok ? type : "Invalid", generation = 2): ConditionDraft {
  return {
    type,
    status: ok ? "True" : "False",
    reason,
    message: `${type} message`,
    observedGeneration: generation,
  };
}

function route(conditions: ConditionDraft[], extra: Partial<ObjectStatus> = {}): ObjectStatus {
  return {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    namespace: "shop",
    name: "orders",
    conditions,
    ...extra,
  };
}

function written(type: string, status: "True" | "False", lastTransitionTime = T0) {
  return { type, status, reason: "Old", message: "old", observedGeneration: 1, lastTransitionTime };
}

describe("desiredStatus", () => {
  it("gives new conditions now, in RFC 3339 seconds", () => {
    const out = desiredStatus(route([draft("Accepted", true), draft("ResolvedRefs", true)]), undefined, NOW);
    expect(out).toEqual({
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "Accepted message",
          observedGeneration: 2,
          lastTransitionTime: NOW_S,
        },
        {
          type: "ResolvedRefs",
          status: "True",
          reason: "ResolvedRefs",
          message: "ResolvedRefs message",
          observedGeneration: 2,
          lastTransitionTime: NOW_S,
        },
      ],
    });
    expect(rfc3339(new Date("2026-01-01T00:00:00.000Z"))).toBe(T0);
  });

  it("keeps lastTransitionTime while the status is unchanged, even when reason and message change", () => {
    const current = { conditions: [written("Accepted", "True")] };
    const out = desiredStatus(route([draft("Accepted", true, "Accepted")]), current, NOW);
    expect(out.conditions).toEqual([
      {
        type: "Accepted",
        status: "True",
        reason: "Accepted",
        message: "Accepted message",
        observedGeneration: 2,
        lastTransitionTime: T0,
      },
    ]);
  });

  it("updates lastTransitionTime only for the condition that flipped", () => {
    const current = { conditions: [written("Accepted", "True"), written("ResolvedRefs", "True")] };
    const out = desiredStatus(route([draft("Accepted", true), draft("ResolvedRefs", false)]), current, NOW);
    const times = (out.conditions as { type: string; lastTransitionTime: string }[]).map((c) => [
      c.type,
      c.lastTransitionTime,
    ]);
    expect(times).toEqual([
      ["Accepted", T0],
      ["ResolvedRefs", NOW_S],
    ]);
  });

  it("treats Unknown → True as a transition and a current condition without a time as new", () => {
    const current = {
      conditions: [
        written("Accepted", "True"),
        { ...written("ResolvedRefs", "False"), status: "Unknown" },
        { type: "Programmed", status: "True" },
      ],
    };
    const out = desiredStatus(
      route([draft("Accepted", true), draft("ResolvedRefs", true), draft("Programmed", true)]),
      current,
      NOW,
    );
    expect((out.conditions as { lastTransitionTime: string }[]).map((c) => c.lastTransitionTime)).toEqual([
      T0,
      NOW_S,
      NOW_S,
    ]);
  });

  it("drops conditions compile no longer produces", () => {
    const current = {
      conditions: [written("Accepted", "True"), written("Conflicted", "True")],
      readyEndpoints: 3,
    };
    const out = desiredStatus(route([draft("Accepted", true)]), current, NOW);
    expect((out.conditions as { type: string }[]).map((c) => c.type)).toEqual(["Accepted"]);
    expect(out).not.toHaveProperty("readyEndpoints");
  });

  it("sets observedGeneration from compile, else from the object's generation", () => {
    const noGen: ConditionDraft = { type: "Accepted", status: "True", reason: "Accepted", message: "ok" };
    expect(
      (
        desiredStatus(route([draft("Accepted", true, "Accepted", 7)]), undefined, NOW, 9)
          .conditions as ConditionDraft[]
      )[0]?.observedGeneration,
    ).toBe(7);
    expect(
      (desiredStatus(route([noGen]), undefined, NOW, 9).conditions as ConditionDraft[])[0]
        ?.observedGeneration,
    ).toBe(9);
    expect(
      (desiredStatus(route([noGen]), undefined, NOW).conditions as ConditionDraft[])[0],
    ).not.toHaveProperty("observedGeneration");
  });

  it("keeps compile's condition order, not the current one, and one condition per type", () => {
    const current = { conditions: [written("ResolvedRefs", "True"), written("Accepted", "True")] };
    const out = desiredStatus(
      route([draft("Accepted", true), draft("ResolvedRefs", true), draft("Accepted", false)]),
      current,
      NOW,
    );
    expect(
      (out.conditions as { type: string; status: string }[]).map((c) => `${c.type}=${c.status}`),
    ).toEqual(["Accepted=True", "ResolvedRefs=True"]);
  });

  it("carries readyEndpoints and backends when compile set them, including 0 and empty", () => {
    expect(desiredStatus(route([], { readyEndpoints: 0 }), undefined, NOW)).toEqual({
      conditions: [],
      readyEndpoints: 0,
    });
    expect(desiredStatus(route([], { backends: "a,b" }), undefined, NOW)).toEqual({
      conditions: [],
      backends: "a,b",
    });
    expect(desiredStatus(route([], { backends: "" }), undefined, NOW)).toEqual({
      conditions: [],
      backends: "",
    });
  });

  it("is a fixed point: recomputing against its own output at a later time is the same status", () => {
    const s = route([draft("Accepted", true), draft("ResolvedRefs", false)], { backends: "orders" });
    const first = desiredStatus(s, { conditions: [written("Accepted", "False")] }, NOW);
    const second = desiredStatus(s, JSON.parse(JSON.stringify(first)), new Date("2030-01-01T00:00:00Z"));
    expect(sameStatus(first, second)).toBe(true);
  });

  it("ignores garbage in the current status", () => {
    for (const current of [
      null,
      42,
      "x",
      { conditions: "no" },
      { conditions: [null, 1, { status: "True" }] },
    ]) {
      expect(desiredStatus(route([draft("Accepted", true)]), current, NOW).conditions).toEqual([
        expect.objectContaining({ type: "Accepted", lastTransitionTime: NOW_S }),
      ]);
    }
  });
});

describe("sameStatus", () => {
  it("ignores key order at every depth", () => {
    expect(
      sameStatus({ a: 1, b: { c: [1, { d: "x", e: true }] } }, { b: { c: [1, { e: true, d: "x" }] }, a: 1 }),
    ).toBe(true);
  });

  it("sees differences in values, array order and length, and missing keys", () => {
    expect(sameStatus({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameStatus({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameStatus({ a: [1] }, { a: [1, 1] })).toBe(false);
    expect(sameStatus({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameStatus({ a: {} }, { a: [] })).toBe(false);
    expect(sameStatus({ a: null }, { a: {} })).toBe(false);
    expect(sameStatus({ a: "1" }, { a: 1 })).toBe(false);
  });

  it("treats an undefined property as absent and no status as different from an empty one", () => {
    expect(sameStatus({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameStatus(undefined, {})).toBe(false);
    expect(sameStatus(undefined, undefined)).toBe(true);
  });
});

describe("withExtraConditions", () => {
  it("replaces a condition of the same type in place and appends new ones", () => {
    const s = route([draft("Accepted", true), draft("ResolvedRefs", true)]);
    const out = withExtraConditions(s, [draft("Programmed", true), draft("Accepted", false)]);
    expect(out.conditions.map((c) => `${c.type}=${c.status}`)).toEqual([
      "Accepted=False",
      "ResolvedRefs=True",
      "Programmed=True",
    ]);
    expect(s.conditions).toHaveLength(2);
  });
});

describe("StatusWriter with a fake API", () => {
  type Call = { method: string; path: string; body?: unknown };

  function fakeClient(respond: (call: Call) => unknown): { client: ApiClient; calls: Call[] } {
    const calls: Call[] = [];
    const client = {
      send: async (method: string, path: string, body?: unknown) => {
        const call = { method, path, body };
        calls.push(call);
        return respond(call);
      },
    } as unknown as ApiClient;
    return { client, calls };
  }

  const object = (rv: string, status?: unknown) => ({
    metadata: { generation: 2, resourceVersion: rv },
    status,
  });

  it("skips without a request when the cached status is already the desired one", async () => {
    const { client, calls } = fakeClient(() => ({}));
    const s = route([draft("Accepted", true)]);
    const status = desiredStatus(s, undefined, NOW);
    const counts = await new StatusWriter({ client }).write([s], () => object("5", status));
    expect(counts).toEqual({ written: 0, skipped: 1, conflicts: 0, missing: 0, failed: 0, deferred: 0 });
    expect(calls).toEqual([]);
  });

  it("PUTs the status with the resourceVersion it was computed against", async () => {
    const { client, calls } = fakeClient(() => ({}));
    const counts = await new StatusWriter({ client, now: () => NOW }).write(
      [route([draft("Accepted", true)])],
      () => object("5"),
    );
    expect(counts.written).toBe(1);
    expect(calls).toEqual([
      {
        method: "PUT",
        path: "/apis/sluice.dev/v1alpha1/namespaces/shop/gatewayroutes/orders/status",
        body: {
          apiVersion: "sluice.dev/v1alpha1",
          kind: "GatewayRoute",
          metadata: { name: "orders", namespace: "shop", resourceVersion: "5" },
          status: desiredStatus(route([draft("Accepted", true)]), undefined, NOW),
        },
      },
    ]);
  });

  it("gives up after three retries of a conflict, logs, and goes on with the next object", async () => {
    const logs: string[] = [];
    const { client, calls } = fakeClient(({ method, path }) => {
      if (method === "GET") return object("6");
      if (path.includes("/orders/")) throw new ApiError(409, method, path, { message: "conflict" });
      if (path.includes("/gone/")) throw new ApiError(404, method, path, { message: "not found" });
      if (path.includes("/bad/")) throw new ApiError(422, method, path, { message: "invalid" });
      return {};
    });
    const counts = await new StatusWriter({ client, log: (m) => logs.push(m) }).write(
      [
        route([draft("Accepted", true)]),
        route([draft("Accepted", true)], { name: "gone" }),
        route([draft("Accepted", true)], { name: "bad" }),
        route([draft("Accepted", true)], { name: "fine" }),
        route([draft("Accepted", true)], { kind: "Nope" }),
      ],
      () => object("5"),
    );
    expect(counts).toEqual({ written: 1, skipped: 0, conflicts: 4, missing: 1, failed: 3, deferred: 0 });
    expect(calls.filter((c) => c.path.includes("/orders")).map((c) => c.method)).toEqual([
      "PUT",
      "GET",
      "PUT",
      "GET",
      "PUT",
      "GET",
      "PUT",
    ]);
    expect(logs).toContain("status write failed: still conflicting after retries");
  });

  it("GETs the object when the cache has nothing; a 404 there is missing", async () => {
    const { client, calls } = fakeClient(({ method, path }) => {
      throw new ApiError(404, method, path, {});
    });
    const counts = await new StatusWriter({ client }).write(
      [route([draft("Accepted", true)])],
      () => undefined,
    );
    expect(counts).toEqual({ written: 0, skipped: 0, conflicts: 0, missing: 1, failed: 0, deferred: 0 });
    expect(calls.map((c) => c.method)).toEqual(["GET"]);
  });

  it("writes at most `concurrency` objects at a time", async () => {
    let inFlight = 0;
    let peak = 0;
    const { client } = fakeClient(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return {};
    });
    const statuses = Array.from({ length: 30 }, (_, i) =>
      route([draft("Accepted", true)], { name: `r${i}` }),
    );
    const counts = await new StatusWriter({ client, concurrency: 4 }).write(statuses, () => object("1"));
    expect(counts.written).toBe(30);
    expect(peak).toBe(4);
  });
});
