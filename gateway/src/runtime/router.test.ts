// Route precedence as a table: which route answers a request when several match. The
// routes go through compileSnapshot, which orders each host's matches (byPrecedence in
// core/compile/virtual-hosts.ts), and then into the Router, which must consult its indexes
// in that same order; so each row checks the two together, the way the gateway uses them.
// Each row is also built with its routes written in reverse: precedence is never the order
// of the objects.
import { describe, expect, it } from "vitest";
import { compileSnapshot } from "../../../core/compile/compile.ts";
import { type RouteRequest, Router, routeHost } from "./router.ts";

const API = "sluice.dev/v1alpha1";

interface TestRoute {
  name: string;
  /** One GatewayRoute match (path, method, headers, queryParams); none matches everything. */
  match?: Record<string, unknown>;
  hostnames?: string[];
  /** creationTimestamp, for the age tie-break. */
  created?: string;
}

const prefix = (value: string, rest: Record<string, unknown> = {}) => ({
  path: { type: "PathPrefix", value },
  ...rest,
});
const exact = (value: string, rest: Record<string, unknown> = {}) => ({
  path: { type: "Exact", value },
  ...rest,
});
const regex = (value: string, rest: Record<string, unknown> = {}) => ({
  path: { type: "RegularExpression", value },
  ...rest,
});
const header = (name: string, value: string, type = "Exact") => ({ type, name, value });
const param = header;

function routerFor(routes: TestRoute[]): Router<string> {
  const objects = [
    {
      apiVersion: API,
      kind: "BackendPool",
      metadata: { name: "p", namespace: "t" },
      spec: { endpoints: [{ address: "127.0.0.1", port: 1 }] },
    },
    ...routes.map((r) => ({
      apiVersion: API,
      kind: "GatewayRoute",
      metadata: { name: r.name, namespace: "t", ...(r.created ? { creationTimestamp: r.created } : {}) },
      spec: {
        ...(r.hostnames ? { hostnames: r.hostnames } : {}),
        rules: [{ ...(r.match ? { matches: [r.match] } : {}), backendRefs: [{ name: "p" }] }],
      },
    })),
  ];
  const { snapshot, statuses } = compileSnapshot(objects, { apiKeyHashKey: "test" });
  // A route refused by compile would make the row test something else.
  const refused = statuses.filter((s) =>
    s.conditions.some((c) => c.type === "Accepted" && c.status === "False" && c.reason !== "Conflicted"),
  );
  expect(refused).toEqual([]);
  const routeOf = new Map(snapshot.rules.map((rule) => [rule.id, rule.route.name]));
  return new Router(snapshot.virtualHosts, (id) => routeOf.get(id));
}

type Req = Partial<RouteRequest> & { path: string };
const req = (r: Req): RouteRequest => ({ host: "", method: "GET", headers: {}, query: "", ...r });

/** The route that answers, in both orders of the objects; undefined is a 404. */
function winner(routes: TestRoute[], r: Req): string | undefined {
  const forward = routerFor(routes).match(req(r))?.rule;
  const backward = routerFor([...routes].reverse()).match(req(r))?.rule;
  expect(backward).toBe(forward);
  return forward;
}

type Row = [string, TestRoute[], Req, string | undefined];

describe("path precedence", () => {
  it.each<Row>([
    [
      "Exact over a PathPrefix of the same value",
      [
        { name: "prefix", match: prefix("/a") },
        { name: "exact", match: exact("/a") },
      ],
      { path: "/a" },
      "exact",
    ],
    [
      "PathPrefix below an Exact path",
      [
        { name: "prefix", match: prefix("/a") },
        { name: "exact", match: exact("/a") },
      ],
      { path: "/a/b" },
      "prefix",
    ],
    [
      "Exact over a RegularExpression",
      [
        { name: "regex", match: regex("/a/.*") },
        { name: "exact", match: exact("/a/b") },
      ],
      { path: "/a/b" },
      "exact",
    ],
    [
      "RegularExpression over a longer PathPrefix",
      [
        { name: "prefix", match: prefix("/a/b/c") },
        { name: "regex", match: regex("/a/.*") },
      ],
      { path: "/a/b/c/d" },
      "regex",
    ],
    [
      "the longer RegularExpression first",
      [
        { name: "short", match: regex("/a/.*") },
        { name: "long", match: regex("/a/b/.*") },
      ],
      { path: "/a/b/c" },
      "long",
    ],
    [
      "a RegularExpression matches the whole path",
      [
        { name: "regex", match: regex("/a") },
        { name: "root", match: prefix("/") },
      ],
      { path: "/a/b" },
      "root",
    ],
    [
      "the longest PathPrefix",
      [
        { name: "a", match: prefix("/a") },
        { name: "ab", match: prefix("/a/b") },
        { name: "root", match: prefix("/") },
      ],
      { path: "/a/b/c" },
      "ab",
    ],
    [
      "a shorter PathPrefix when the longer does not match",
      [
        { name: "a", match: prefix("/a") },
        { name: "ab", match: prefix("/a/b") },
      ],
      { path: "/a/c" },
      "a",
    ],
    [
      "PathPrefix matches whole segments only",
      [
        { name: "a", match: prefix("/a") },
        { name: "root", match: prefix("/") },
      ],
      { path: "/ab" },
      "root",
    ],
    [
      "a trailing slash on a PathPrefix changes nothing",
      [{ name: "a", match: prefix("/a/") }],
      { path: "/a" },
      "a",
    ],
    ["a route without matches serves every path", [{ name: "all" }], { path: "/x/y" }, "all"],
    ["no match is a 404", [{ name: "a", match: prefix("/a") }], { path: "/b" }, undefined],
  ])("%s", (_, routes, r, expected) => {
    expect(winner(routes, r)).toBe(expected);
  });

  it("reports the PathPrefix that matched, as written without its trailing slash", () => {
    const router = routerFor([
      { name: "a", match: prefix("/a/b/") },
      { name: "exact", match: exact("/x") },
    ]);
    expect(router.match(req({ path: "/a/b/c" }))).toEqual({ rule: "a", prefix: "/a/b" });
    expect(router.match(req({ path: "/x" }))).toEqual({ rule: "exact", prefix: undefined });
  });
});

describe("method, headers and query params, on the same path", () => {
  const byMethod: TestRoute[] = [
    { name: "any", match: prefix("/a") },
    { name: "get", match: prefix("/a", { method: "GET" }) },
  ];
  const byHeaders: TestRoute[] = [
    { name: "none", match: prefix("/a") },
    { name: "one", match: prefix("/a", { headers: [header("x-env", "prod")] }) },
    { name: "two", match: prefix("/a", { headers: [header("x-env", "prod"), header("x-team", "shop")] }) },
  ];
  const byQuery: TestRoute[] = [
    { name: "none", match: prefix("/a") },
    { name: "one", match: prefix("/a", { queryParams: [param("v", "1")] }) },
    { name: "two", match: prefix("/a", { queryParams: [param("v", "1"), param("debug", "on")] }) },
  ];
  it.each<Row>([
    ["a method match over none", byMethod, { path: "/a", method: "GET" }, "get"],
    ["no method match for another method", byMethod, { path: "/a", method: "POST" }, "any"],
    [
      "the longer PathPrefix over a method match",
      [
        { name: "get", match: prefix("/a", { method: "GET" }) },
        { name: "ab", match: prefix("/a/b") },
      ],
      { path: "/a/b", method: "GET" },
      "ab",
    ],
    ["more headers first", byHeaders, { path: "/a", headers: { "x-env": "prod", "x-team": "shop" } }, "two"],
    ["fewer headers when one is missing", byHeaders, { path: "/a", headers: { "x-env": "prod" } }, "one"],
    ["no header match when a value differs", byHeaders, { path: "/a", headers: { "x-env": "dev" } }, "none"],
    [
      "a RegularExpression header matches the whole value",
      [
        { name: "none", match: prefix("/a") },
        { name: "re", match: prefix("/a", { headers: [header("x-v", "v[0-9]+", "RegularExpression")] }) },
      ],
      { path: "/a", headers: { "x-v": "v12" } },
      "re",
    ],
    [
      "…and not a part of it",
      [
        { name: "none", match: prefix("/a") },
        { name: "re", match: prefix("/a", { headers: [header("x-v", "v[0-9]+", "RegularExpression")] }) },
      ],
      { path: "/a", headers: { "x-v": "v12-beta" } },
      "none",
    ],
    [
      "a method match over header matches",
      [
        {
          name: "headers",
          match: prefix("/a", { headers: [header("x-env", "prod"), header("x-team", "shop")] }),
        },
        { name: "get", match: prefix("/a", { method: "GET" }) },
      ],
      { path: "/a", method: "GET", headers: { "x-env": "prod", "x-team": "shop" } },
      "get",
    ],
    ["more query params first", byQuery, { path: "/a", query: "?debug=on&v=1" }, "two"],
    ["fewer query params when one is missing", byQuery, { path: "/a", query: "?v=1" }, "one"],
    ["no query match without a query", byQuery, { path: "/a" }, "none"],
    [
      "a header match over query param matches",
      [
        { name: "query", match: prefix("/a", { queryParams: [param("v", "1"), param("debug", "on")] }) },
        { name: "header", match: prefix("/a", { headers: [header("x-env", "prod")] }) },
      ],
      { path: "/a", headers: { "x-env": "prod" }, query: "?v=1&debug=on" },
      "header",
    ],
    [
      "identical matches: the older route",
      [
        { name: "young", match: prefix("/a"), created: "2026-02-01T00:00:00Z" },
        { name: "old", match: prefix("/a"), created: "2026-01-01T00:00:00Z" },
      ],
      { path: "/a" },
      "old",
    ],
  ])("%s", (_, routes, r, expected) => {
    expect(winner(routes, r)).toBe(expected);
  });
});

describe("host precedence", () => {
  const hosts: TestRoute[] = [
    { name: "catch-all" },
    { name: "wildcard", hostnames: ["*.example.com"] },
    { name: "deeper-wildcard", hostnames: ["*.api.example.com"] },
    { name: "exact", hostnames: ["api.example.com"], match: prefix("/v1") },
  ];
  it.each<Row>([
    ["an exact host over wildcards", hosts, { host: "api.example.com", path: "/v1/x" }, "exact"],
    [
      "an exact host without a matching path falls through to the wildcard",
      hosts,
      { host: "api.example.com", path: "/v2" },
      "wildcard",
    ],
    ["the wildcard with more labels", hosts, { host: "eu.api.example.com", path: "/" }, "deeper-wildcard"],
    ["a wildcard for any deeper name", hosts, { host: "a.b.example.com", path: "/" }, "wildcard"],
    ["a wildcard does not match its bare domain", hosts, { host: "example.com", path: "/" }, "catch-all"],
    ["routes without hostnames for every other host", hosts, { host: "other.org", path: "/" }, "catch-all"],
    ["a request without a host", hosts, { host: "", path: "/" }, "catch-all"],
    [
      "a 404 for an unknown host without a catch-all",
      [{ name: "exact", hostnames: ["api.example.com"] }],
      { host: "other.org", path: "/" },
      undefined,
    ],
  ])("%s", (_, routes, r, expected) => {
    expect(winner(routes, r)).toBe(expected);
  });

  it.each([
    ["API.Example.COM", "api.example.com"],
    ["api.example.com:8443", "api.example.com"],
    ["api.example.com.", "api.example.com"],
    ["[::1]:8080", "[::1]"],
    [undefined, ""],
  ])("routeHost(%j) is %j", (raw, host) => {
    expect(routeHost(raw)).toBe(host);
  });
});
