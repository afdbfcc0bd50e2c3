// The upgrade path relays only what admission judged (issue 14 §2): a GET asking for
// websocket. A POST upgrade, `Upgrade: h2c` and any other protocol are refused with a 400
// problem before routing, and never reach the upstream.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { closeAfterEach, pool, rawExchange, simpleRoute, type Upstream } from "./harness.ts";

const t = closeAfterEach();

/** An upstream that accepts every WebSocket handshake and records each upgrade request. */
async function wsUpstream(): Promise<Upstream & { upgrades: { method: string; url: string }[] }> {
  const up = await t.upstream("ws");
  const upgrades: { method: string; url: string }[] = [];
  up.server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    upgrades.push({ method: req.method ?? "", url: req.url ?? "" });
    const accept = createHash("sha1")
      .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
  });
  return Object.assign(up, { upgrades });
}

/** A route to the upstream, with an AuthzPolicy that allows GET and denies POST (or the reverse). */
async function setup(deny: "POST" | "GET") {
  const up = await wsUpstream();
  const allow = deny === "POST" ? "GET" : "POST";
  const gw = await t.gateway([
    pool("ws", [up.port]),
    simpleRoute("secret", "ws", { matches: [{ path: { type: "PathPrefix", value: "/secret" } }] }),
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "AuthzPolicy",
      metadata: { name: "methods", namespace: "test" },
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "secret" }],
        rules: [
          { name: `no-${deny.toLowerCase()}`, action: "Deny", request: { methods: [deny] } },
          { name: `${allow.toLowerCase()}-ok`, action: "Allow", request: { methods: [allow] } },
        ],
        defaultAction: "Deny",
      },
    },
  ]);
  return { gw, up };
}

/** An upgrade request written byte for byte, so no client library adjusts it. */
function upgradeRequest(method: string, path: string, upgrade: string, extra = ""): string {
  return (
    `${method} ${path} HTTP/1.1\r\nhost: localhost\r\nconnection: Upgrade\r\nupgrade: ${upgrade}\r\n` +
    `sec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\n${extra}\r\n`
  );
}

describe("upgrade requests", () => {
  it("relays a GET websocket handshake that admission allowed, as GET", async () => {
    const { gw, up } = await setup("POST");
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      upgradeRequest("GET", "/secret/x", "websocket"),
    );
    expect(res.status).toBe(101);
    expect(up.upgrades).toEqual([{ method: "GET", url: "/secret/x" }]);
  });

  it("refuses a POST websocket upgrade (Deny on POST, Allow on GET): the upstream sees nothing", async () => {
    const { gw, up } = await setup("POST");
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      upgradeRequest("POST", "/secret/x", "websocket", "content-length: 0\r\n"),
    );
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(res.body)).toMatchObject({
      type: "https://sluice.dev/problems/bad-request",
      status: 400,
      detail: "a WebSocket handshake must be a GET (got POST)",
    });
    expect(up.upgrades).toEqual([]);
    expect(up.requests).toEqual([]);
  });

  it("refuses a POST websocket upgrade on a route that allows POST and denies GET: never relayed as GET", async () => {
    const { gw, up } = await setup("GET");
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      upgradeRequest("POST", "/secret/x", "websocket", "content-length: 0\r\n"),
    );
    expect(res.status).toBe(400);
    expect(up.upgrades).toEqual([]);
    expect(up.requests).toEqual([]);
    // The GET handshake itself is judged as GET, and denied.
    const get = await rawExchange(
      gw.handle.dataAddress.port,
      upgradeRequest("GET", "/secret/x", "websocket"),
    );
    expect(get.status).toBe(403);
    expect(up.upgrades).toEqual([]);
  });

  it.each([
    ["h2c", /^Upgrade: h2c is refused/],
    ["H2C", /^Upgrade: h2c is refused/],
    ["TLS/1.2", /^only "Upgrade: websocket" is relayed \(got "TLS\/1\.2"\)/],
    ["websocket, h2c", /^only "Upgrade: websocket" is relayed/],
    ["foo", /^only "Upgrade: websocket" is relayed/],
  ])("refuses Upgrade: %s with a 400 problem, before the upstream", async (upgrade, detail) => {
    const { gw, up } = await setup("POST");
    const extra = upgrade.toLowerCase().includes("h2c") ? "http2-settings: AAMAAABkAAQAAP__\r\n" : "";
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      upgradeRequest("GET", "/secret/x", upgrade, extra),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).detail).toMatch(detail);
    expect(up.upgrades).toEqual([]);
    expect(up.requests).toEqual([]);
  });

  it("strips Upgrade from a request that does not ask for one (no Connection: upgrade)", async () => {
    const { gw, up } = await setup("POST");
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      "GET /secret/x HTTP/1.1\r\nhost: localhost\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAAP__\r\nconnection: close\r\n\r\n",
    );
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]?.headers.upgrade).toBeUndefined();
    expect(up.upgrades).toEqual([]);
  });

  it("refuses an upgrade request with a body", async () => {
    const { gw, up } = await setup("POST");
    const res = await rawExchange(
      gw.handle.dataAddress.port,
      `${upgradeRequest("GET", "/secret/x", "websocket", "content-length: 5\r\n")}hello`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).detail).toBe("an upgrade request must not have a body");
    expect(up.upgrades).toEqual([]);
  });
});
