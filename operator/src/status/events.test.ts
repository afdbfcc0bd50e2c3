import { describe, expect, it } from "vitest";
import { type ApiClient, ApiError } from "../../../core/kubernetes/api-client.ts";
import { ConditionEvents, type ConditionLike, conditionTransitions, type EventSubject } from "./events.ts";

type Call = { method: string; path: string; body: Record<string, unknown> };

function fakeClient(respond: (call: Call) => unknown = () => ({})): { client: ApiClient; calls: Call[] } {
  const calls: Call[] = [];
  const client = {
    send: async (method: string, path: string, body: Record<string, unknown>) => {
      const call = { method, path, body };
      calls.push(call);
      return respond(call);
    },
  } as unknown as ApiClient;
  return { client, calls };
}

const route: EventSubject = {
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  namespace: "shop",
  name: "orders",
  uid: "u-1",
};

const c = (type: string, status: string, reason = type, message = `${type} is ${status}`): ConditionLike => ({
  type,
  status,
  reason,
  message,
});

function recorder(calls?: { client: ApiClient }, clock = { t: Date.parse("2026-01-01T00:00:00Z") }) {
  const { client } = calls ?? fakeClient();
  return {
    events: new ConditionEvents({ client, reportingInstance: "op-a", now: () => new Date(clock.t) }),
    clock,
  };
}

describe("conditionTransitions", () => {
  it.each([
    ["a new True condition: not news", undefined, [c("Accepted", "True")], []],
    ["a new False condition", undefined, [c("ResolvedRefs", "False", "BackendNotFound")], ["ResolvedRefs"]],
    [
      "status changed",
      { conditions: [c("ResolvedRefs", "True")] },
      [c("ResolvedRefs", "False")],
      ["ResolvedRefs"],
    ],
    [
      "reason changed, same status",
      { conditions: [c("ResolvedRefs", "False", "BackendNotFound")] },
      [c("ResolvedRefs", "False", "InvalidKind")],
      ["ResolvedRefs"],
    ],
    ["a new Pending condition: every new object is", undefined, [c("Programmed", "False", "Pending")], []],
    [
      "only the message changed",
      { conditions: [c("Programmed", "True", "Programmed", "Served by 1/2")] },
      [c("Programmed", "True", "Programmed", "Served by 2/2")],
      [],
    ],
  ])("%s", (_, before, after, expected) => {
    expect(conditionTransitions(before, after).map((x) => x.type)).toEqual(expected);
  });
});

describe("ConditionEvents", () => {
  it("creates an events.k8s.io/v1 Event about the object, Warning for a False condition", async () => {
    const fake = fakeClient();
    const { events } = recorder(fake);
    events.changed(route, { conditions: [c("ResolvedRefs", "True")] }, [
      c("Accepted", "True"),
      c("ResolvedRefs", "False", "BackendNotFound", 'BackendPool "gone" not found'),
    ]);
    await events.flush();
    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(call?.method).toBe("POST");
    expect(call?.path).toBe("/apis/events.k8s.io/v1/namespaces/shop/events");
    expect(call?.body).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { namespace: "shop", name: expect.stringMatching(/^orders\.[0-9a-f]+$/) },
      eventTime: "2026-01-01T00:00:00.000000Z",
      reportingController: "sluice.dev/operator",
      reportingInstance: "op-a",
      action: "ResolvedRefs",
      reason: "BackendNotFound",
      type: "Warning",
      note: 'ResolvedRefs=False: BackendPool "gone" not found',
      regarding: {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "GatewayRoute",
        namespace: "shop",
        name: "orders",
        uid: "u-1",
      },
    });
    expect(call?.body).not.toHaveProperty("series");
  });

  it("turns a repeat within 6 minutes into a series on the same Event; later, a new Event", async () => {
    const fake = fakeClient();
    const { events, clock } = recorder(fake);
    const broken = c("ResolvedRefs", "False", "BackendNotFound");
    events.record(route, broken);
    await events.flush();
    clock.t += 60_000;
    events.record(route, broken);
    await events.flush();
    clock.t += 5 * 60_000;
    events.record(route, broken);
    await events.flush();
    const name = (fake.calls[0]?.body.metadata as { name?: string } | undefined)?.name;
    expect(fake.calls.map((x) => [x.method, x.path.split("/").at(-1), x.body.series])).toEqual([
      ["POST", "events", undefined],
      ["PATCH", name, { count: 2, lastObservedTime: "2026-01-01T00:01:00.000000Z" }],
      ["PATCH", name, { count: 3, lastObservedTime: "2026-01-01T00:06:00.000000Z" }],
    ]);
    clock.t += 6 * 60_000 + 1;
    events.record(route, broken);
    await events.flush();
    expect(fake.calls.at(-1)?.method).toBe("POST");
  });

  it("bounds a flapping object to its burst, and the next request carries every occurrence", async () => {
    const fake = fakeClient();
    const { events, clock } = recorder(fake);
    const other = { ...route, name: "cart", uid: "u-2" };
    for (let i = 0; i < 100; i++) {
      events.record(route, i % 2 ? c("ResolvedRefs", "True") : c("ResolvedRefs", "False", "BackendNotFound"));
      await events.flush(); // one status write after another
      clock.t += 1_000;
    }
    expect(fake.calls).toHaveLength(25); // two Events (created) and their series patches
    expect(fake.calls.filter((x) => x.method === "POST")).toHaveLength(2);
    expect(events.dropped).toBe(75);
    // Other objects have their own budget.
    events.record(other, c("Accepted", "False", "Invalid"));
    await events.flush();
    expect(fake.calls).toHaveLength(26);
    // Five minutes on, one more token: the patch says how often it happened meanwhile.
    clock.t += 5 * 60_000;
    events.record(route, c("ResolvedRefs", "False", "BackendNotFound"));
    await events.flush();
    expect(fake.calls.at(-1)?.body.series).toMatchObject({ count: 51 });
  });

  it("coalesces occurrences while a request waits: one create carries the count", async () => {
    const fake = fakeClient();
    const { events } = recorder(fake);
    for (let i = 0; i < 10; i++) events.record(route, c("ResolvedRefs", "False", "BackendNotFound"));
    await events.flush();
    expect(fake.calls.map((x) => [x.method, x.body.series])).toEqual([
      ["POST", { count: 10, lastObservedTime: "2026-01-01T00:00:00.000000Z" }],
    ]);
    expect(events.dropped).toBe(0);
  });

  it("starts over when the Event expired (404 on the patch), and never throws", async () => {
    let expired = true;
    const fake = fakeClient((call) => {
      if (call.method === "PATCH" && expired) {
        expired = false;
        throw new ApiError(404, call.method, call.path, {});
      }
      if (call.path.includes("/namespaces/boom/")) throw new Error("connection reset");
      return {};
    });
    const logs: string[] = [];
    const events = new ConditionEvents({ client: fake.client, log: (m) => logs.push(m) });
    const broken = c("ResolvedRefs", "False", "BackendNotFound");
    events.record(route, broken);
    await events.flush();
    events.record(route, broken);
    await events.flush();
    expect(fake.calls.map((x) => x.method)).toEqual(["POST", "PATCH", "POST"]);
    events.record({ ...route, namespace: "boom" }, broken);
    await events.flush();
    expect(logs).toEqual(["event not recorded"]);
  });
});
