// Confusing request targets, sent over a raw TCP socket so that no client library
// normalises them first. Each row says either which pool got the request and the exact
// path (and query) it received, or that the gateway refused it with a 400 problem.
// The invariant behind every row: the path that was matched is the path forwarded.
import { beforeAll, describe, expect, it } from "vitest";
import {
  closeAfterAll,
  pool,
  type RawResponse,
  rawExchange,
  route,
  simpleRoute,
  type TestGateway,
  type Upstream,
} from "./harness.ts";

const { upstream, gateway } = closeAfterAll();

function rawRequest(port: number, target: string, host = "paths.test"): Promise<RawResponse> {
  return rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

const NAMES = ["root", "pub", "priv", "admin", "api", "upper", "rw"] as const;
type Name = (typeof NAMES)[number];

const ups = new Map<Name, Upstream>();
let gw: TestGateway;

beforeAll(async () => {
  for (const name of NAMES) ups.set(name, await upstream(name));
  const prefix = (value: string) => ({ matches: [{ path: { type: "PathPrefix", value } }] });
  gw = await gateway([
    ...NAMES.map((n) => pool(n, [(ups.get(n) as Upstream).port])),
    simpleRoute("root", "root"),
    simpleRoute("pub", "pub", prefix("/public")),
    simpleRoute("priv", "priv", prefix("/private")),
    simpleRoute("admin", "admin", prefix("/admin")),
    simpleRoute("api", "api", prefix("/api")),
    simpleRoute("upper", "upper", { matches: [{ path: { type: "Exact", value: "/Api/x" } }] }),
    route("rw", {
      rules: [
        {
          ...prefix("/rw"),
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } },
            },
          ],
          backendRefs: [{ name: "rw" }],
        },
      ],
    }),
  ]);
});

type Expected = { pool: Name; url: string } | { status: 400 };
const to = (pool: Name, url: string): Expected => ({ pool, url });
const refused: Expected = { status: 400 };

const table: [string, Expected][] = [
  // Dot segments and repeated slashes are resolved before routing.
  ["/a/../b", to("root", "/b")],
  ["/a//b", to("root", "/a/b")],
  ["//a///b//", to("root", "/a/b/")],
  ["/a/./b", to("root", "/a/b")],
  ["/a/b/..", to("root", "/a/")],
  ["/../../etc/passwd", to("root", "/etc/passwd")],
  // Encoded dots are dots.
  ["/a/%2e%2e/b", to("root", "/b")],
  ["/a/%2E%2E/b", to("root", "/b")],
  ["/a/.%2e/b", to("root", "/b")],
  ["/a/%2e/b", to("root", "/a/b")],
  ["/%2e%2e/%2e%2e/etc/passwd", to("root", "/etc/passwd")],
  // Unreserved escapes are decoded (and then routed as such); the rest are upper-cased.
  ["/%41pi/x", to("upper", "/Api/x")],
  ["/%61dmin/x", to("admin", "/admin/x")],
  ["/a%7eb", to("root", "/a~b")],
  ["/a%3ab", to("root", "/a%3Ab")],
  ["/a%20b", to("root", "/a%20b")],
  ["/caf%c3%a9", to("root", "/caf%C3%A9")],
  // Escaping out of one prefix route into another: the normalised path decides.
  ["/api/../admin", to("admin", "/admin")],
  ["/public/../private/x", to("priv", "/private/x")],
  ["/public/%2e%2e/private/x", to("priv", "/private/x")],
  ["/public/./../private//x/", to("priv", "/private/x/")],
  ["/private/../public/x", to("pub", "/public/x")],
  // The query is passed through verbatim, never normalised.
  ["/a?x=/../b&y=%2F", to("root", "/a?x=/../b&y=%2F")],
  ["/a/../b?q=%2e%2e&r=a//b", to("root", "/b?q=%2e%2e&r=a//b")],
  ["/public/../admin?", to("admin", "/admin?")],
  // URLRewrite ReplacePrefixMatch sees, and rewrites, the normalised path.
  ["/rw/users", to("rw", "/v2/users")],
  ["/rw/../rw/./users//1?x=1", to("rw", "/v2/users/1?x=1")],
  ["/x/../rw/a", to("rw", "/v2/a")],
  ["/rw", to("rw", "/v2")],
  ["/rwx", to("root", "/rwx")],
  // Anything a backend might read differently is refused.
  ["/a%2Fb", refused],
  ["/a%2fb", refused],
  ["/public/..%2fprivate", refused],
  ["/a%5cb", refused],
  ["/a%5Cb", refused],
  ["/a\\b", refused],
  ["/public/..;/private/x", refused],
  ["/public\\..\\private", refused],
  ["/a%00", refused],
  ["/a%zz", refused],
  ["/a%2", refused],
  ["/a%", refused],
  ["/a#frag", refused],
  ["http://paths.test/a/../b", refused],
  ["*", refused],
];

describe("request-target normalisation over a raw socket", () => {
  it.each(table)("%s", async (target, expected) => {
    const res = await rawRequest(gw.handle.dataAddress.port, target);
    if ("status" in expected) {
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(res.body)).toMatchObject({
        type: "https://sluice.dev/problems/bad-request",
        status: 400,
      });
      return;
    }
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { name: string; url: string };
    expect(body).toMatchObject({ name: expected.pool, url: expected.url });
  });

  it("never forwards a path with dot segments, empty segments or encoded separators", () => {
    const seen = [...ups.values()].flatMap((u) => u.requests.map((r) => r.url.split("?")[0] ?? ""));
    expect(seen.length).toBeGreaterThan(20);
    for (const path of seen) {
      expect(path.split("/").slice(1, -1)).not.toContain("");
      expect(path.split("/")).not.toContain("..");
      expect(path.split("/")).not.toContain(".");
      expect(path).not.toMatch(/%2f|%5c|%2e|\\/i);
    }
  });

  it("never lets a request for the private prefix reach the public pool", () => {
    const pub = ups.get("pub") as Upstream;
    for (const r of pub.requests) expect(r.url.startsWith("/public/")).toBe(true);
  });
});
