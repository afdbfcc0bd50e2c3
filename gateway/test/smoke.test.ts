import { beforeAll, describe, expect, it } from "vitest";
import { closeAfterAll, json, pool, simpleRoute, type TestGateway, type Upstream } from "./harness.ts";

const { upstream, gateway } = closeAfterAll();

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await upstream("a");
  gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")]);
});

describe("gateway smoke", () => {
  it("proxies a request to the upstream and says who it is", async () => {
    const res = await gw.request("/hello?x=1");
    expect(res.statusCode).toBe(200);
    const body = await json<{ name: string; url: string }>(res);
    expect(body).toMatchObject({ name: "a", url: "/hello?x=1" });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
