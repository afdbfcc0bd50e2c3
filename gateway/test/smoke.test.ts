import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  pool,
  simpleRoute,
  startTestGateway,
  startUpstream,
  type TestGateway,
  type Upstream,
} from "./harness.ts";

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startUpstream("a");
  gw = await startTestGateway([pool("a", [up.port]), simpleRoute("r", "a")]);
});
afterAll(async () => {
  await gw.close();
  await up.close();
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
