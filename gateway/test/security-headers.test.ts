// Security headers and header hygiene, as a browser and an upstream see them: the OWASP
// headers on proxied answers and on the gateway's own (404, 401, 403, 429, 502, 503),
// header names with underscores kept from the upstream, and a malformed request on a
// connection whose response is streaming cuts it instead of writing into it.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { closeAfterEach, json, pool, rawExchange, route, simpleRoute } from "./harness.ts";

const { upstream, gateway, defer } = closeAfterEach();
const API = "sluice.dev/v1alpha1";

const at = (path: string, backend: string) => ({
  name: path.slice(1),
  matches: [{ path: { type: "PathPrefix", value: path } }],
  backendRefs: [{ name: backend }],
});

const DEFAULTS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};

describe("security headers", () => {
  it("are on proxied answers and on every answer the gateway writes itself", async () => {
    const up = await upstream("up");
    const held: (() => void)[] = [];
    const slow = await upstream("slow", (req, res) => {
      req.resume();
      held.push(() => res.end("late"));
    });
    defer(() => {
      for (const h of held) h();
    });
    const gw = await gateway([
      pool("up", [up.port]),
      pool("slow", [slow.port], { circuitBreaker: { maxRequests: 1 } }),
      pool("dead", [1]),
      route("r", {
        rules: [at("/ok", "up"), at("/auth", "up"), at("/deny", "up"), at("/limited", "up")].concat([
          at("/dead", "dead"),
          at("/full", "slow"),
        ]),
      }),
      {
        apiVersion: API,
        kind: "AuthzPolicy",
        metadata: { name: "keys", namespace: "test" },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "r", sectionName: "auth" }],
          authentication: { apiKey: { from: [{ header: "x-api-key" }] } },
          defaultAction: "Allow",
        },
      },
      {
        apiVersion: API,
        kind: "AuthzPolicy",
        metadata: { name: "deny", namespace: "test" },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "r", sectionName: "deny" }],
          defaultAction: "Deny",
        },
      },
      {
        apiVersion: API,
        kind: "RateLimitPolicy",
        metadata: { name: "one", namespace: "test" },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "r", sectionName: "limited" }],
          rules: [
            {
              name: "once",
              key: { type: "ClientIP" },
              algorithm: "FixedWindow",
              limit: { requests: 1, per: "1h" },
            },
          ],
        },
      },
    ]);
    const seen: Record<string, number> = {};
    const check = async (path: string, status: number) => {
      const res = await gw.request(path);
      expect(res.statusCode, path).toBe(status);
      expect(res.headers, path).toMatchObject(DEFAULTS);
      // HSTS only over TLS: a plain HTTP listener never says it.
      expect(res.headers["strict-transport-security"], path).toBeUndefined();
      await res.body.dump();
      seen[path] = res.statusCode;
    };
    await check("/ok", 200);
    await check("/nowhere", 404);
    await check("/auth", 401);
    await check("/deny", 403);
    await check("/limited", 200);
    await check("/limited", 429);
    await check("/dead", 502);
    const first = gw.request("/full");
    await eventually("one request held upstream", () => held.length === 1);
    await check("/full", 503);
    held.shift()?.();
    await (await first).body.dump();
    expect(Object.values(seen).sort()).toEqual([200, 401, 403, 404, 429, 502, 503]);
  });

  it("leave an upstream's own value alone, and are on the strict parser's answers too", async () => {
    const up = await upstream("framed", (req, res) => {
      req.resume();
      res.writeHead(200, { "x-frame-options": "SAMEORIGIN", "content-length": 2 });
      res.end("ok");
    });
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")]);
    const res = await gw.request("/");
    expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    await res.body.dump();
    const malformed = await rawExchange(
      Number(new URL(gw.url).port),
      "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
    );
    expect(malformed.status).toBe(400);
    expect(malformed.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("follow the flags: one header off, or none at all", async () => {
    const up = await upstream("a");
    const some = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], {
      frameOptions: "",
      referrerPolicy: "strict-origin-when-cross-origin",
    });
    const a = await some.request("/");
    expect(a.headers["x-frame-options"]).toBeUndefined();
    expect(a.headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    await a.body.dump();
    const none = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], { securityHeaders: false });
    const b = await none.request("/nowhere-special");
    for (const name of Object.keys(DEFAULTS)) expect(b.headers[name]).toBeUndefined();
    await b.body.dump();
  });
});

describe("security headers per route rule (ResponseSecurityHeaders filter)", () => {
  it("replace the gateway's values on that rule only, on proxied and gateway-written answers", async () => {
    const up = await upstream("a");
    const gw = await gateway([
      pool("a", [up.port]),
      pool("dead", [1]),
      route("r", {
        rules: [
          {
            ...at("/embeddable", "a"),
            filters: [
              {
                type: "ResponseSecurityHeaders",
                responseSecurityHeaders: {
                  frameOptions: "SAMEORIGIN",
                  frameAncestors: "'self' https://portal.example.com",
                  referrerPolicy: "",
                },
              },
            ],
          },
          {
            ...at("/embeddable-down", "dead"),
            filters: [
              { type: "ResponseSecurityHeaders", responseSecurityHeaders: { frameOptions: "SAMEORIGIN" } },
            ],
          },
          at("/plain", "a"),
        ],
      }),
    ]);
    const proxied = await gw.request("/embeddable");
    expect(proxied.statusCode).toBe(200);
    expect(proxied.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(proxied.headers["content-security-policy"]).toBe(
      "frame-ancestors 'self' https://portal.example.com",
    );
    expect(proxied.headers["referrer-policy"]).toBeUndefined();
    expect(proxied.headers["x-content-type-options"]).toBe("nosniff"); // not overridden: the gateway's
    await proxied.body.dump();
    const failed = await gw.request("/embeddable-down");
    expect(failed.statusCode).toBe(502);
    expect(failed.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(failed.headers["referrer-policy"]).toBe("no-referrer");
    await failed.body.dump();
    const plain = await gw.request("/plain");
    expect(plain.headers).toMatchObject(DEFAULTS);
    await plain.body.dump();
  });
});

describe("headers with underscores", () => {
  const send = (gw: {
    request: (p: string, o: object) => Promise<import("undici").Dispatcher.ResponseData>;
  }) => gw.request("/", { headers: { x_user_id: "admin", "x-tenant": "t1" } });

  it("are dropped before the upstream by default (CGI would read x_user_id as x-user-id)", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")]);
    const res = await send(gw);
    expect(res.statusCode).toBe(200);
    const seen = (await json<{ headers: Record<string, string> }>(res)).headers;
    expect(seen.x_user_id).toBeUndefined();
    expect(seen["x-tenant"]).toBe("t1");
  });

  it("are refused with 400 naming the header under --headers-with-underscores=reject", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], {
      headersWithUnderscores: "reject",
    });
    const res = await send(gw);
    expect(res.statusCode).toBe(400);
    const body = await json<{ type: string; detail: string }>(res);
    expect(body.type).toBe("https://sluice.dev/problems/bad-request");
    expect(body.detail).toContain("x_user_id");
    expect(up.requests).toHaveLength(0);
  });

  it("pass under --headers-with-underscores=allow", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], {
      headersWithUnderscores: "allow",
    });
    const seen = (await json<{ headers: Record<string, string> }>(await send(gw))).headers;
    expect(seen.x_user_id).toBe("admin");
  });
});

describe("malformed request behind a response in flight", () => {
  it("cuts the connection instead of writing a 400 into the streaming response", async () => {
    let release = () => {};
    const up = await upstream("stream", (req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "content-length": 10 });
      res.write("part1");
      release = () => res.end("part2");
    });
    defer(() => release());
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")]);
    const socket = connect(Number(new URL(gw.url).port), "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    await eventually("the first part of the body", () => Buffer.concat(chunks).includes("part1"));
    // A pipelined request the strict parser refuses, while the answer above is mid-body.
    socket.write("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
    await closed;
    const text = Buffer.concat(chunks).toString("latin1");
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200"]);
    expect(text).not.toContain("400 Bad Request");
  });
});
