// Filters and the headers the gateway itself manages, as the upstream and the client see
// them: header modifiers, URL rewrites, redirects, CORS, hop-by-hop headers,
// X-Forwarded-*/Forwarded and X-Request-Id.
import type { IncomingHttpHeaders } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import {
  closeAfterAll,
  json,
  pool,
  type RawResponse,
  rawExchange,
  route,
  simpleRoute,
  type TestGateway,
  type Upstream,
} from "./harness.ts";

const t = closeAfterAll();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Echo {
  name: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A response header as one string (undici gives repeated headers as an array). */
const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(", ") : v);

/** Sends one raw request (so hop-by-hop headers go out as written); `head` without the final CRLF CRLF. */
function rawRequest(port: number, head: string): Promise<RawResponse> {
  return rawExchange(port, `${head}\r\n\r\n`);
}

/** The elements of a Forwarded header (RFC 7239): split on commas outside quoted strings. */
function forwardedElements(value: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === "\\") {
      current += c + (value[i + 1] ?? "");
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === "," && !quoted) {
      out.push(current.trim());
      current = "";
    } else current += c;
  }
  out.push(current.trim());
  return out;
}

const rule = (path: string, filters: unknown[], backend?: string) => ({
  matches: [{ path: { type: "PathPrefix", value: path } }],
  filters,
  ...(backend ? { backendRefs: [{ name: backend }] } : {}),
});
const rewrite = (path: Record<string, string>) => ({ type: "URLRewrite", urlRewrite: { path } });
const redirect = (requestRedirect: Record<string, unknown>) => ({ type: "RequestRedirect", requestRedirect });

let echo: Upstream;
let hdr: Upstream;
let gw: TestGateway;
let trusting: TestGateway;

beforeAll(async () => {
  echo = await t.upstream("echo");
  // Answers with headers of its own, some of them hop-by-hop.
  hdr = await t.upstream("hdr", (req, res) => {
    req.resume();
    res.setHeader("connection", "x-up-secret");
    res.setHeader("x-up-secret", "1");
    res.setHeader("keep-alive", "timeout=99");
    res.setHeader("proxy-authenticate", "Basic");
    res.setHeader("x-up-normal", "1");
    res.setHeader("x-up-set", "orig");
    res.setHeader("x-up-add", "one");
    res.setHeader("x-up-remove", "bye");
    res.setHeader("x-total", "7");
    res.setHeader("x-request-id", "set-by-upstream");
    res.end("ok");
  });
  const pools = [pool("echo", [echo.port]), pool("hdr", [hdr.port])];
  const cors = {
    allowOrigins: ["https://shop.example.com", "https://admin.example.com"],
    allowMethods: ["GET", "POST"],
    allowHeaders: ["x-token"],
    exposeHeaders: ["x-total"],
    allowCredentials: true,
    maxAge: "10m",
  };
  gw = await t.gateway([
    ...pools,
    simpleRoute("default", "echo"),
    route("modifiers", {
      rules: [
        rule(
          "/reqmod",
          [
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: {
                set: [{ name: "X-Set", value: "new" }],
                add: [{ name: "x-add", value: "two" }],
                remove: ["X-Remove"],
              },
            },
          ],
          "echo",
        ),
        rule(
          "/resmod",
          [
            {
              type: "ResponseHeaderModifier",
              responseHeaderModifier: {
                set: [
                  { name: "x-up-set", value: "replaced" },
                  { name: "X-New", value: "yes" },
                ],
                add: [{ name: "x-up-add", value: "two" }],
                remove: ["X-Up-Remove"],
              },
            },
          ],
          "hdr",
        ),
        rule("/hop", [], "hdr"),
      ],
    }),
    route("rw-root", {
      hostnames: ["rw-root.test"],
      rules: [rule("/api", [rewrite({ type: "ReplacePrefixMatch", replacePrefixMatch: "/" })], "echo")],
    }),
    route("rw-v2", {
      hostnames: ["rw-v2.test"],
      rules: [rule("/api", [rewrite({ type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" })], "echo")],
    }),
    route("rw-slashes", {
      hostnames: ["rw-slashes.test"],
      rules: [rule("/api/", [rewrite({ type: "ReplacePrefixMatch", replacePrefixMatch: "/v2/" })], "echo")],
    }),
    route("rw-other", {
      hostnames: ["rw-other.test"],
      rules: [
        rule("/full", [rewrite({ type: "ReplaceFullPath", replaceFullPath: "/replaced" })], "echo"),
        rule("/host", [{ type: "URLRewrite", urlRewrite: { hostname: "internal.svc.local" } }], "echo"),
      ],
    }),
    route("redirects", {
      hostnames: ["redir.test"],
      rules: [
        rule("/r-scheme", [redirect({ scheme: "https" })]),
        rule("/r-host", [redirect({ hostname: "new.example.com", statusCode: 301 })]),
        rule("/r-port", [redirect({ scheme: "https", port: 8443, statusCode: 308 })]),
        rule("/r-path", [redirect({ path: "/new/place", statusCode: 307 })]),
        rule("/r-default-port", [redirect({ scheme: "http", port: 80, statusCode: 303 })]),
      ],
    }),
    route("cors", {
      rules: [
        rule("/cors", [{ type: "CORS", cors }], "echo"),
        rule("/cors-any", [{ type: "CORS", cors: { allowOrigins: ["*"] } }], "echo"),
      ],
    }),
  ]);
  trusting = await t.gateway([...pools, simpleRoute("default", "echo")], { trustedHops: 1 });
});

/** A request through `gateway`; returns the response and what the echo upstream saw. */
async function viaEcho(
  path: string,
  headers: Record<string, string> = {},
  host = "f.test",
  gateway: TestGateway = gw,
) {
  const res = await gateway.request(path, { host, headers });
  expect(res.statusCode).toBe(200);
  const seen = await json<Echo>(res);
  return { res, seen };
}

describe("RequestHeaderModifier and ResponseHeaderModifier", () => {
  it("sets, adds and removes request headers before they reach the upstream", async () => {
    const { seen } = await viaEcho("/reqmod", {
      "x-set": "old",
      "x-add": "one",
      "x-remove": "gone",
      "x-keep": "k",
    });
    expect(seen.headers["x-set"]).toBe("new");
    expect(seen.headers["x-add"]).toBe("one, two");
    expect(seen.headers["x-remove"]).toBeUndefined();
    expect(seen.headers["x-keep"]).toBe("k");
  });

  it("creates headers the client did not send", async () => {
    const { seen } = await viaEcho("/reqmod");
    expect(seen.headers["x-set"]).toBe("new");
    expect(seen.headers["x-add"]).toBe("two");
  });

  it("sets, adds and removes response headers before they reach the client", async () => {
    const res = await gw.request("/resmod", { host: "f.test" });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe("ok");
    expect(res.headers["x-up-set"]).toBe("replaced");
    expect(res.headers["x-new"]).toBe("yes");
    expect(header(res.headers["x-up-add"])).toBe("one, two");
    expect(res.headers["x-up-remove"]).toBeUndefined();
    expect(res.headers["x-up-normal"]).toBe("1");
  });

  it("leaves other routes' headers alone", async () => {
    const { seen } = await viaEcho("/elsewhere", { "x-remove": "stays" });
    expect(seen.headers["x-remove"]).toBe("stays");
    expect(seen.headers["x-set"]).toBeUndefined();
  });
});

describe("URLRewrite", () => {
  it.each([
    ["rw-root.test", "/api/users", "/users"],
    ["rw-root.test", "/api/users/7?x=1&y", "/users/7?x=1&y"],
    ["rw-root.test", "/api", "/"],
    ["rw-root.test", "/api/", "/"],
    ["rw-v2.test", "/api/users", "/v2/users"],
    ["rw-v2.test", "/api", "/v2"],
    ["rw-v2.test", "/api/", "/v2/"],
    ["rw-v2.test", "/api/users?q=a/../b", "/v2/users?q=a/../b"],
    ["rw-slashes.test", "/api/users", "/v2/users"],
    ["rw-slashes.test", "/api", "/v2"],
    ["rw-other.test", "/full/anything/at/all?x=1", "/replaced?x=1"],
    ["rw-other.test", "/full", "/replaced"],
    ["rw-other.test", "/host/a?b", "/host/a?b"],
  ])("%s%s reaches the upstream as %s", async (host, path, expected) => {
    const { seen } = await viaEcho(path, {}, host);
    expect(seen.url).toBe(expected);
  });

  it("does not rewrite a prefix that is not a whole segment", async () => {
    // /apiary is not under /api: it falls through to the catch-all route, unrewritten.
    const { seen } = await viaEcho("/apiary", {}, "rw-v2.test");
    expect(seen.url).toBe("/apiary");
  });

  it("sends the rewritten hostname as the upstream Host header", async () => {
    const { seen } = await viaEcho("/host/x", {}, "rw-other.test");
    expect(seen.headers.host).toBe("internal.svc.local");
    expect(seen.headers["x-forwarded-host"]).toBe("rw-other.test");
  });

  it("keeps the client's Host header when the hostname is not rewritten", async () => {
    const { seen } = await viaEcho("/full", {}, "rw-other.test:8080");
    expect(seen.headers.host).toBe("rw-other.test:8080");
  });
});

describe("RequestRedirect", () => {
  it.each([
    ["redir.test", "/r-scheme?x=1", 302, "https://redir.test/r-scheme?x=1"],
    ["redir.test:8080", "/r-scheme/a", 302, "https://redir.test/r-scheme/a"],
    ["redir.test", "/r-host/a?b=c&d", 301, "http://new.example.com/r-host/a?b=c&d"],
    ["redir.test", "/r-port/x?y=1", 308, "https://redir.test:8443/r-port/x?y=1"],
    ["redir.test:8080", "/r-port", 308, "https://redir.test:8443/r-port"],
    ["redir.test", "/r-path/old?keep=me", 307, "http://redir.test/new/place?keep=me"],
    ["redir.test:8080", "/r-default-port?q", 303, "http://redir.test/r-default-port?q"],
    ["redir.test", "/x/../r-scheme//a", 302, "https://redir.test/r-scheme/a"],
  ])("%s%s → %i %s", async (host, path, status, location) => {
    const before = echo.requests.length + hdr.requests.length;
    const res = await gw.request(path, { host });
    await res.body.dump();
    expect(res.statusCode).toBe(status);
    expect(res.headers.location).toBe(location);
    expect(res.headers["x-request-id"]).toMatch(UUID);
    expect(echo.requests.length + hdr.requests.length).toBe(before);
  });
});

describe("CORS", () => {
  const preflight = (path: string, origin: string, extra: Record<string, string> = {}) =>
    gw.request(path, {
      method: "OPTIONS",
      host: "f.test",
      headers: { origin, "access-control-request-method": "POST", ...extra },
    });

  it("answers a preflight from an allowed origin itself, with 204", async () => {
    const before = echo.requests.length;
    const res = await preflight("/cors/items", "https://shop.example.com", {
      "access-control-request-headers": "x-token",
    });
    await res.body.dump();
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      "access-control-allow-origin": "https://shop.example.com",
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "x-token",
      "access-control-allow-credentials": "true",
      "access-control-max-age": "600",
    });
    expect(header(res.headers.vary)).toContain("Origin");
    expect(echo.requests.length).toBe(before);
  });

  it("answers a preflight from a refused origin with 204 and no Allow-Origin", async () => {
    const before = echo.requests.length;
    const res = await preflight("/cors/items", "https://evil.example.com");
    await res.body.dump();
    expect(res.statusCode).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-allow-methods"]).toBeUndefined();
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    expect(echo.requests.length).toBe(before);
  });

  it("adds Allow-Origin and Expose-Headers to an actual request from an allowed origin", async () => {
    const { res, seen } = await viaEcho("/cors/items", { origin: "https://admin.example.com" });
    expect(seen.url).toBe("/cors/items");
    expect(seen.headers.origin).toBe("https://admin.example.com");
    expect(res.headers["access-control-allow-origin"]).toBe("https://admin.example.com");
    expect(res.headers["access-control-expose-headers"]).toBe("x-total");
    expect(res.headers["access-control-allow-credentials"]).toBe("true");
    expect(header(res.headers.vary)).toContain("Origin");
  });

  it("forwards an actual request from a refused origin without CORS headers", async () => {
    const { res } = await viaEcho("/cors/items", { origin: "https://evil.example.com" });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-expose-headers"]).toBeUndefined();
  });

  it("forwards an OPTIONS request that is not a preflight", async () => {
    const before = echo.requests.length;
    const res = await gw.request("/cors/items", {
      method: "OPTIONS",
      host: "f.test",
      headers: { origin: "https://shop.example.com" },
    });
    expect(res.statusCode).toBe(200);
    expect(await json<Echo>(res)).toMatchObject({ method: "OPTIONS", url: "/cors/items" });
    expect(echo.requests.length).toBe(before + 1);
  });

  it("answers any origin with * when allowOrigins is *", async () => {
    const pre = await preflight("/cors-any", "https://anyone.example");
    await pre.body.dump();
    expect(pre.statusCode).toBe(204);
    expect(pre.headers["access-control-allow-origin"]).toBe("*");
    expect(pre.headers["access-control-allow-methods"]).toBe("GET, HEAD, POST");
    const { res } = await viaEcho("/cors-any", { origin: "https://anyone.example" });
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
  });
});

describe("hop-by-hop headers", () => {
  it("does not forward hop-by-hop request headers, nor those the Connection header names", async () => {
    const before = hdr.requests.length;
    const res = await rawRequest(
      gw.handle.dataAddress.port,
      [
        "GET /hop HTTP/1.1",
        "Host: f.test",
        "Connection: close, X-Secret",
        "X-Secret: s",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Proxy-Authorization: Basic dXNlcjpwYXNz",
        "Proxy-Connection: keep-alive",
        "Upgrade: foo/1",
        "Trailer: x-checksum",
        "X-Normal: yes",
      ].join("\r\n"),
    );
    expect(res.status).toBe(200);
    expect(hdr.requests).toHaveLength(before + 1);
    const seen = hdr.requests.at(-1)?.headers ?? {};
    expect(seen["x-normal"]).toBe("yes");
    const hopByHop = [
      "x-secret",
      "keep-alive",
      "te",
      "proxy-authorization",
      "proxy-connection",
      "upgrade",
      "trailer",
    ];
    for (const name of hopByHop) {
      expect(seen[name], name).toBeUndefined();
    }
    expect(seen.connection ?? "").not.toMatch(/x-secret/i);
  });

  it("does not return hop-by-hop response headers, nor those the upstream's Connection names", async () => {
    const res = await rawRequest(
      gw.handle.dataAddress.port,
      "GET /hop HTTP/1.1\r\nHost: f.test\r\nConnection: close",
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok");
    expect(res.headers["x-up-normal"]).toBe("1");
    expect(res.headers["x-up-secret"]).toBeUndefined();
    expect(res.headers["proxy-authenticate"]).toBeUndefined();
    expect(res.headers["keep-alive"]).toBeUndefined();
    expect(res.headers.connection).toBe("close");
  });
});

describe("X-Forwarded-* and Forwarded", () => {
  it("with trustedHops 0, replaces whatever the client claims with the socket peer", async () => {
    const { seen } = await viaEcho(
      "/fwd",
      {
        "x-forwarded-for": "1.2.3.4",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "evil.test",
        forwarded: "for=1.2.3.4;proto=https",
      },
      "app.test:8080",
    );
    expect(seen.headers).toMatchObject({
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "app.test:8080",
      forwarded: 'for=127.0.0.1;proto=http;host="app.test:8080"',
    });
  });

  it("with trustedHops 1, keeps the incoming chain and appends the peer", async () => {
    const { seen } = await viaEcho(
      "/fwd",
      {
        "x-forwarded-for": "203.0.113.9, 10.0.0.1",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "public.example.com",
        forwarded: "for=203.0.113.9;proto=https",
      },
      "app.test",
      trusting,
    );
    expect(seen.headers).toMatchObject({
      "x-forwarded-for": "203.0.113.9, 10.0.0.1, 127.0.0.1",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "public.example.com",
      forwarded: 'for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host="app.test"',
    });
  });

  it("with trustedHops 1 and no incoming chain, starts one with the peer", async () => {
    const { seen } = await viaEcho("/fwd", {}, "app.test", trusting);
    expect(seen.headers).toMatchObject({
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "app.test",
      forwarded: 'for=127.0.0.1;proto=http;host="app.test"',
    });
  });

  // BUG: the Host header is copied into Forwarded's quoted host= unchecked, so a client can
  // close the quote and append an element of its own (for=6.6.6.6) that an upstream reading
  // the last element would take as the gateway's. RFC 9112 §3.2 requires 400 for an invalid
  // Host; RFC 7239 requires a well-formed quoted-string. Either fix satisfies this test.
  it("does not let the Host header add elements to Forwarded", async () => {
    const before = echo.requests.length;
    const res = await rawRequest(
      gw.handle.dataAddress.port,
      'GET /fwd HTTP/1.1\r\nHost: x", for=6.6.6.6;host="y\r\nConnection: close',
    );
    if (res.status === 400) {
      expect(echo.requests.length).toBe(before);
      return;
    }
    const forwarded = String(echo.requests.at(-1)?.headers.forwarded);
    expect(forwardedElements(forwarded)).toHaveLength(1);
    expect(forwardedElements(forwarded)[0]).toMatch(/^for=127\.0\.0\.1;/);
  });
});

describe("X-Request-Id", () => {
  it("generates a UUID when the client sends none, the same upstream and back", async () => {
    const { res, seen } = await viaEcho("/id");
    expect(seen.headers["x-request-id"]).toMatch(UUID);
    expect(res.headers["x-request-id"]).toBe(seen.headers["x-request-id"]);
  });

  it("generates a different id for every request", async () => {
    const a = await viaEcho("/id");
    const b = await viaEcho("/id");
    expect(a.seen.headers["x-request-id"]).not.toBe(b.seen.headers["x-request-id"]);
  });

  it.each([
    ["abc-123_DEF.456", "a simple token"],
    ["trace:01HZX/span=7@edge+1", "punctuation a tracer might use"],
    ["x".repeat(128), "128 characters"],
  ])("propagates a sane id (%s: %s)", async (id) => {
    const { res, seen } = await viaEcho("/id", { "x-request-id": id });
    expect(seen.headers["x-request-id"]).toBe(id);
    expect(res.headers["x-request-id"]).toBe(id);
  });

  it.each([
    ["x".repeat(129), "129 characters"],
    ["y".repeat(300), "300 characters"],
    ["has spaces in it", "spaces"],
    ["a,b", "a comma"],
    ["<script>", "markup"],
  ])("replaces an insane id (%s: %s)", async (id) => {
    const { res, seen } = await viaEcho("/id", { "x-request-id": id });
    expect(seen.headers["x-request-id"]).toMatch(UUID);
    expect(res.headers["x-request-id"]).toBe(seen.headers["x-request-id"]);
  });

  it("returns the gateway's id to the client, not one the upstream made up", async () => {
    const res = await gw.request("/hop", { host: "f.test", headers: { "x-request-id": "from-client" } });
    await res.body.dump();
    expect(hdr.requests.at(-1)?.headers["x-request-id"]).toBe("from-client");
    expect(res.headers["x-request-id"]).toBe("from-client");
  });

  it("puts the id on the gateway's own answers too", async () => {
    const res = await gw.request("/r-scheme", { host: "redir.test", headers: { "x-request-id": "redir-1" } });
    await res.body.dump();
    expect(res.headers["x-request-id"]).toBe("redir-1");
  });
});
