// Authentication and authorization through the gateway, black box: the same AuthzPolicy a
// platform team applies, API keys from Secrets, JWTs from a real JWKS endpoint on
// 127.0.0.1, and what the client and the upstream each see.
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../test-support/index.ts";
import { makeKey, sign, type TestKey } from "../../test-support/test-tokens.ts";
import { type FakeIdp, startIdp } from "./auth-idp.ts";
import {
  closeAfterEach,
  json,
  pool,
  rawExchange,
  simpleRoute,
  type TestGateway,
  type Upstream,
} from "./harness.ts";

const t = closeAfterEach();
const ISSUER = "https://id.test/";
const API_KEY = "sk_acme_0123456789abcdef";
let idp: FakeIdp;
let key: TestKey;

beforeAll(async () => {
  key = await makeKey("k1");
  idp = await startIdp([key.publicJwk]);
});
afterAll(() => idp.close());

const now = () => Math.floor(Date.now() / 1000);
const token = (claims: Record<string, unknown> = {}) =>
  sign(key, { iss: ISSUER, aud: "orders-api", sub: "user-7", iat: now() - 5, exp: now() + 300, ...claims });

function resources(upstreamPort: number) {
  return [
    pool("orders", [upstreamPort]),
    simpleRoute("orders", "orders"),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "acme-key", namespace: "test" },
      stringData: { key: API_KEY },
    },
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "ApiKey",
      metadata: { name: "acme", namespace: "test" },
      spec: {
        secretRef: { name: "acme-key", key: "key" },
        consumer: "acme",
        tenant: "t-acme",
        scopes: ["orders:read"],
      },
    },
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "AuthzPolicy",
      metadata: { name: "orders-access", namespace: "test" },
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "orders" }],
        authentication: {
          jwt: {
            providers: [
              {
                name: "idp",
                issuer: ISSUER,
                audiences: ["orders-api"],
                jwks: { uri: idp.uri },
                claimToHeaders: [{ claim: "sub", header: "x-user-id" }],
              },
            ],
          },
          apiKey: { from: [{ header: "x-api-key" }] },
        },
        rules: [
          { name: "no-deletes", action: "Deny", request: { methods: ["DELETE"] } },
          {
            name: "partners-read",
            action: "Allow",
            principals: { consumers: ["acme"] },
            request: { methods: ["GET"] },
          },
          { name: "customers", action: "Allow", principals: { roles: ["customer"] } },
        ],
        defaultAction: "Deny",
      },
    },
  ];
}

async function setup(): Promise<{ gw: TestGateway; up: Upstream }> {
  const up = await t.upstream("orders");
  const gw = await t.gateway(resources(up.port));
  return { gw, up };
}

describe("AuthzPolicy through the gateway", () => {
  it("answers 401 with the challenges and no detail when no credential is sent", async () => {
    const { gw, up } = await setup();
    const res = await gw.request("/orders/1");
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe("Bearer, ApiKey");
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(await json(res)).toEqual({
      type: "https://sluice.dev/problems/unauthorized",
      title: "Authentication required",
      status: 401,
    });
    expect(up.requests).toHaveLength(0);
  });

  it("lets a valid API key GET through, and strips a spoofed identity header", async () => {
    const { gw, up } = await setup();
    const res = await gw.request("/orders/1", { headers: { "x-api-key": API_KEY, "x-user-id": "admin" } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(up.requests[0]?.headers["x-user-id"]).toBeUndefined();
    // Authorization is per rule: the partner may read, not write (default Deny → 403, no challenge).
    const post = await gw.request("/orders", {
      method: "POST",
      body: "{}",
      headers: { "x-api-key": API_KEY },
    });
    expect(post.statusCode).toBe(403);
    expect(post.headers["www-authenticate"]).toBeUndefined();
    expect(await json(post)).toEqual({
      type: "https://sluice.dev/problems/forbidden",
      title: "Access denied",
      status: 403,
    });
    expect(up.requests).toHaveLength(1);
  });

  it("verifies a JWT against the JWKS, tells the upstream who it is, and denies DELETE first", async () => {
    const { gw, up } = await setup();
    const customer = await token({ roles: ["customer"] });
    const res = await gw.request("/orders", {
      method: "POST",
      body: "{}",
      headers: { authorization: `Bearer ${customer}`, "x-user-id": "spoofed" },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(up.requests[0]?.headers["x-user-id"]).toBe("user-7");
    const del = await gw.request("/orders/1", {
      method: "DELETE",
      headers: { authorization: `Bearer ${customer}` },
    });
    expect(del.statusCode).toBe(403);
    await del.body.dump();
    // A valid token without the role: default Deny.
    const nobody = await gw.request("/orders", { headers: { authorization: `Bearer ${await token()}` } });
    expect(nobody.statusCode).toBe(403);
    await nobody.body.dump();
  });

  it("refuses a forged, expired or unknown credential with one and the same 401", async () => {
    const { gw, up } = await setup();
    const other = await makeKey("k1"); // same kid, another key: a forgery
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${await token({ exp: now() - 120, roles: ["customer"] })}` },
      {
        authorization: `Bearer ${await sign(other, { iss: ISSUER, aud: "orders-api", sub: "x", exp: now() + 60, roles: ["customer"] })}`,
      },
      {
        authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(`{"iss":"${ISSUER}","exp":${now() + 60}}`).toString("base64url")}.`,
      },
      { "x-api-key": "sk_guess_0123456789abcdef" },
    ];
    const bodies = new Set<string>();
    for (const headers of attempts) {
      const res = await gw.request("/orders", { headers });
      expect(res.statusCode).toBe(401);
      bodies.add(await res.body.text());
    }
    expect(bodies.size).toBe(1);
    expect(up.requests).toHaveLength(0);
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    const failures = metrics
      .split("\n")
      .filter((l) => l.startsWith('sluice_auth_failures_total{policy="test/orders-access"'))
      .reduce((sum, l) => sum + Number(l.split(" ")[1]), 0);
    expect(failures).toBe(4);
  });

  it("never lets a path-confusion request reach a protected path", async () => {
    const up = await t.upstream("paths");
    const gw = await t.gateway([
      pool("paths", [up.port]),
      simpleRoute("paths", "paths"),
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "AuthzPolicy",
        metadata: { name: "paths", namespace: "test" },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "paths" }],
          rules: [
            { name: "no-admin", action: "Deny", request: { paths: ["/admin/**"] } },
            { name: "public", action: "Allow", request: { paths: ["/public/**"] } },
          ],
          defaultAction: "Deny",
        },
      },
    ]);
    const ok = await gw.request("/public/page");
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    const attacks = [
      "/admin",
      "//admin",
      "/admin/",
      "/public/../admin",
      "/public/./../admin/users",
      "/public/%2e%2e/admin",
      "/public/%2E%2E/admin",
      "/%61dmin",
      "/public/%2e%2e%2fadmin",
      "/admin%2f",
      "/public/..%2fadmin",
      "/public%2f..%2fadmin",
      "/ADMIN",
      "/Admin/users",
      "/admin;x",
      "/public/..;/admin",
      "/public/%2e%2e;/admin",
      "/public\\..\\admin",
      "/admin%00",
      "/admin%252f",
    ];
    for (const path of attacks) {
      const res = await gw.request(path);
      await res.body.dump();
      expect([400, 403], path).toContain(res.statusCode);
    }
    // Only the one allowed request arrived upstream.
    expect(up.requests.map((r) => r.url)).toEqual(["/public/page"]);
  });

  it("admits a WebSocket handshake only with a credential", async () => {
    const { gw } = await setup();
    const refused = await rawExchange(
      gw.handle.dataAddress.port,
      "GET /orders/ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe("Bearer, ApiKey");
  });
});

describe("brute-force protection", () => {
  const OLD_KEY = "sk_acme_old_0123456789abcdef";
  /** The gateway as seen from `address` (127.0.0.0/8 is all loopback on Linux). */
  const from = (address: string) => {
    const agent = new Agent({ localAddress: address });
    t.defer(() => agent.close());
    return agent;
  };
  async function rotated() {
    const up = await t.upstream("orders");
    const gw = await t.gateway([
      ...resources(up.port),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "acme-old-key", namespace: "test" },
        stringData: { key: OLD_KEY },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "ApiKey",
        metadata: { name: "acme-old", namespace: "test" },
        spec: {
          secretRef: { name: "acme-old-key", key: "key" },
          consumer: "acme",
          tenant: "t-acme",
          scopes: ["orders:read"],
          expiresAt: "2020-01-01T00:00:00Z",
        },
      },
    ]);
    const get = async (address: string, apiKey: string) => {
      const res = await request(`${gw.url}/orders/1`, {
        headers: { "x-api-key": apiKey },
        dispatcher: from(address),
      });
      await res.body.dump();
      return { status: res.statusCode, retryAfter: res.headers["retry-after"] };
    };
    return { gw, up, get };
  }

  it("eleven refusals of a consumer's expired key lock out neither its current key nor other addresses", async () => {
    const { up, get } = await rotated();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await get("127.0.0.2", OLD_KEY)).status);
    expect(statuses).toEqual([...Array(11).fill(401)]);
    await sleep(50); // failures are counted asynchronously
    // The consumer's current key, from another address: served (it was 429 Retry-After 300).
    expect(await get("127.0.0.3", API_KEY)).toEqual({ status: 200, retryAfter: undefined });
    // The address that kept failing is blocked, whatever it presents: guessing stops there.
    const blocked = await get("127.0.0.2", API_KEY);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(60);
    // The refused credential itself is blocked from every address; the current key is not.
    expect((await get("127.0.0.4", OLD_KEY)).status).toBe(429);
    expect((await get("127.0.0.4", API_KEY)).status).toBe(200);
    expect(up.requests).toHaveLength(2);
  });

  it("keys a stranger guesses from many addresses never lock out the consumer", async () => {
    const { get } = await rotated();
    for (let i = 0; i < 22; i++)
      expect((await get(`127.0.1.${i % 2 === 0 ? 1 : 2}`, `sk_acme_guess_${i}_0123456789`)).status).toBe(401);
    await sleep(50);
    expect((await get("127.0.0.5", API_KEY)).status).toBe(200);
    expect((await get("127.0.1.1", API_KEY)).status).toBe(429);
  });
});
