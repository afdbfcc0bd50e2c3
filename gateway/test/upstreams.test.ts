// Load balancing through real sockets: weighted backendRefs across pools, the pool
// algorithms over weighted endpoints, consistent hashing (header, cookie, source IP), and
// upstream keep-alive (connections reused, and kept across a reload that leaves the pool
// alone). Every upstream answers with its name, so the tests count what a client sees.
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { closeAfterEach, pool, route, simpleRoute, type TestGateway, type Upstream } from "./harness.ts";

// Everything a test starts is closed after it, even when it fails.
const { upstream, gateway } = closeAfterEach();

/** Upstreams answering with their names, by name. */
async function upstreams<N extends string>(...names: N[]): Promise<Record<N, Upstream>> {
  const ups = await Promise.all(names.map((name) => upstream(name)));
  return Object.fromEntries(names.map((name, i) => [name, ups[i]])) as Record<N, Upstream>;
}

function reply(res: ServerResponse, name: string) {
  const body = JSON.stringify({ name });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** A pool whose endpoints carry weights. */
function weightedPool(name: string, endpoints: [port: number, weight: number][], spec = {}) {
  return pool(name, [], {
    ...spec,
    endpoints: endpoints.map(([port, weight]) => ({ address: "127.0.0.1", port, weight })),
  });
}

/** One request; the name of the upstream that answered. */
async function whoAnswers(gw: TestGateway, headers: Record<string, string> = {}): Promise<string> {
  const res = await gw.request("/", { headers });
  expect(res.statusCode).toBe(200);
  return ((await res.body.json()) as { name: string }).name;
}

/** n requests, `concurrency` at a time; how many each upstream answered. */
async function tally(
  gw: TestGateway,
  n: number,
  concurrency = 1,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const name = await whoAnswers(gw, headers(next++));
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

/** Each name's share of n is within ±5 percentage points of its expected share. */
function expectShares(counts: Record<string, number>, n: number, expected: Record<string, number>) {
  expect(Object.keys(counts).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, share] of Object.entries(expected)) {
    expect(Math.abs((counts[name] ?? 0) / n - share), `${name}: ${counts[name]} of ${n}`).toBeLessThanOrEqual(
      0.05,
    );
  }
}

/** Counts the TCP connections an upstream accepts. */
function countConnections(up: Upstream): { readonly count: number } {
  const counter = { count: 0 };
  up.server.on("connection", () => counter.count++);
  return counter;
}

describe("weighted backendRefs across pools", () => {
  it("splits 90/10 between two pools within ±5 points over 1,000 requests", async () => {
    const { a, b } = await upstreams("a", "b");
    const gw = await gateway([
      pool("main", [a.port]),
      pool("canary", [b.port]),
      route("r", {
        rules: [
          {
            backendRefs: [
              { name: "main", weight: 90 },
              { name: "canary", weight: 10 },
            ],
          },
        ],
      }),
    ]);
    expectShares(await tally(gw, 1000, 10), 1000, { a: 0.9, b: 0.1 });
  });

  it("splits 1/1/1 into thirds, and a weight of 0 sends nothing", async () => {
    const { a, b, c, d } = await upstreams("a", "b", "c", "d");
    const gw = await gateway([
      pool("p1", [a.port]),
      pool("p2", [b.port]),
      pool("p3", [c.port]),
      pool("p4", [d.port]),
      route("r", {
        rules: [
          {
            backendRefs: [
              { name: "p1", weight: 1 },
              { name: "p2", weight: 1 },
              { name: "p3", weight: 1 },
              { name: "p4", weight: 0 },
            ],
          },
        ],
      }),
    ]);
    expectShares(await tally(gw, 1000, 10), 1000, { a: 1 / 3, b: 1 / 3, c: 1 / 3 });
    expect(d.requests).toHaveLength(0);
  });
});

describe("pool algorithms over endpoints weighted 1, 2, 3", () => {
  const thirds = { a: 1 / 6, b: 2 / 6, c: 3 / 6 };

  async function weighted(algorithm: string) {
    const { a, b, c } = await upstreams("a", "b", "c");
    return gateway([
      weightedPool(
        "p",
        [
          [a.port, 1],
          [b.port, 2],
          [c.port, 3],
        ],
        { loadBalancing: { algorithm } },
      ),
      simpleRoute("r", "p"),
    ]);
  }

  it("RoundRobin gives each endpoint exactly its weight's share", async () => {
    const gw = await weighted("RoundRobin");
    expect(await tally(gw, 600, 10)).toEqual({ a: 100, b: 200, c: 300 });
    // Smooth (nginx): every cycle of 6 holds exactly 1 a, 2 b and 3 c, interleaved, so the
    // heaviest endpoint never gets a run of 3.
    let sequence = "";
    for (let i = 0; i < 12; i++) sequence += await whoAnswers(gw);
    for (const cycle of [sequence.slice(0, 6), sequence.slice(6)]) {
      expect([...cycle].sort().join(""), sequence).toBe("abbccc");
    }
    expect(sequence).not.toMatch(/ccc/);
  });

  it("Random follows the weights within ±5 points over 1,000 requests", async () => {
    const gw = await weighted("Random");
    expectShares(await tally(gw, 1000, 10), 1000, thirds);
  });

  it("LeastRequest follows the weights within ±5 points over 1,000 requests when all are idle", async () => {
    const gw = await weighted("LeastRequest");
    expectShares(await tally(gw, 1000), 1000, thirds);
  });
});

describe("LeastRequest under load", () => {
  it("sends fewer requests to an endpoint that answers slowly", async () => {
    const { a, b } = await upstreams("a", "b");
    const slow = await upstream("slow", (req, res) => {
      req.resume();
      setTimeout(() => reply(res, "slow"), 200);
    });
    const gw = await gateway([
      pool("p", [a.port, b.port, slow.port], { loadBalancing: { algorithm: "LeastRequest" } }),
      simpleRoute("r", "p"),
    ]);
    // 60 requests, 12 in flight at a time: while a slow request is in flight, the slow
    // endpoint loses every comparison against an idle one.
    const counts = await tally(gw, 60, 12);
    expect((counts.a ?? 0) + (counts.b ?? 0) + (counts.slow ?? 0)).toBe(60);
    expect(counts.slow ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(10); // a fair share is 20
    expect(counts.a ?? 0).toBeGreaterThan(2 * (counts.slow ?? 0));
    expect(counts.b ?? 0).toBeGreaterThan(2 * (counts.slow ?? 0));
  });

  it("the same burst fired all at once still keeps the slow endpoint below a fair share", async () => {
    const { a, b } = await upstreams("a", "b");
    const slow = await upstream("slow", (req, res) => {
      req.resume();
      setTimeout(() => reply(res, "slow"), 200);
    });
    const gw = await gateway([
      pool("p", [a.port, b.port, slow.port], { loadBalancing: { algorithm: "LeastRequest" } }),
      simpleRoute("r", "p"),
    ]);
    // Warm the client connections so the 60 arrive close together but not before any answer.
    await tally(gw, 30, 30);
    slow.requests.length = 0;
    const names = await Promise.all(Array.from({ length: 60 }, () => whoAnswers(gw)));
    const slowCount = names.filter((n) => n === "slow").length;
    expect(slowCount, names.join(",")).toBeLessThanOrEqual(15); // a fair share is 20
  });
});

describe("ConsistentHash", () => {
  async function hashed(consistentHash: Record<string, unknown>) {
    const ups = Object.values(await upstreams("a", "b", "c"));
    const gw = await gateway([
      pool(
        "p",
        ups.map((u) => u.port),
        { loadBalancing: { algorithm: "ConsistentHash", consistentHash } },
      ),
      simpleRoute("r", "p"),
    ]);
    return gw;
  }

  it("on a header: one value always reaches one endpoint, many values spread over all", async () => {
    const gw = await hashed({ header: "x-user" });
    for (const user of ["alice", "bob", "carol"]) {
      const counts = await tally(gw, 50, 5, () => ({ "x-user": user }));
      expect(Object.values(counts), `${user}: ${JSON.stringify(counts)}`).toEqual([50]);
    }
    const spread = await tally(gw, 200, 10, (i) => ({ "x-user": `user-${i}` }));
    expect(Object.keys(spread).sort()).toEqual(["a", "b", "c"]);
    for (const count of Object.values(spread))
      expect(count, JSON.stringify(spread)).toBeGreaterThanOrEqual(30);
    // The mapping is stable: asking again for user-7 gives the same endpoint as before.
    const first = await whoAnswers(gw, { "x-user": "user-7" });
    for (let i = 0; i < 10; i++) expect(await whoAnswers(gw, { "x-user": "user-7" })).toBe(first);
  });

  it("on a cookie: one value always reaches one endpoint, many values spread over all", async () => {
    const gw = await hashed({ cookie: { name: "sid" } });
    for (const sid of ["s1", "s2", "s3"]) {
      const counts = await tally(gw, 50, 5, () => ({ cookie: `theme=dark; sid=${sid}; lang=en` }));
      expect(Object.values(counts), `${sid}: ${JSON.stringify(counts)}`).toEqual([50]);
    }
    const spread = await tally(gw, 200, 10, (i) => ({ cookie: `sid=session-${i}` }));
    expect(Object.keys(spread).sort()).toEqual(["a", "b", "c"]);
    for (const count of Object.values(spread))
      expect(count, JSON.stringify(spread)).toBeGreaterThanOrEqual(30);
  });

  it("on a cookie: a client without the cookie is given one, and it keeps the client on one endpoint", async () => {
    // API reference: "Hash on a cookie; the gateway sets it when the request has none
    // (sticky sessions)", and ttl is "Lifetime of the cookie the gateway sets".
    const gw = await hashed({ cookie: { name: "sid", ttl: "1h" } });
    const first = await gw.request("/");
    expect(first.statusCode).toBe(200);
    const firstName = ((await first.body.json()) as { name: string }).name;
    const setCookie = [first.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("sid="));
    expect(setCookie, "Set-Cookie sid=… on a request without the cookie").toBeDefined();
    expect(setCookie).toMatch(/;\s*(max-age=3600|expires=)/i);
    const cookie = (setCookie ?? "").split(";")[0] ?? "";
    const counts = await tally(gw, 20, 1, () => ({ cookie }));
    expect(counts).toEqual({ [firstName]: 20 });
  });

  it("on the source IP: every request from 127.0.0.1 reaches one endpoint, whatever X-Forwarded-For says", async () => {
    const gw = await hashed({ sourceIP: true });
    const counts = await tally(gw, 50, 5);
    expect(Object.values(counts), JSON.stringify(counts)).toEqual([50]);
    // trustedHops is 0: a client cannot pick its endpoint by forging X-Forwarded-For.
    const forged = await tally(gw, 30, 5, (i) => ({ "x-forwarded-for": `10.0.${i}.1` }));
    expect(forged).toEqual({ [Object.keys(counts)[0] ?? ""]: 30 });
  });
});

describe("upstream connections", () => {
  it("reuses keep-alive connections: 200 sequential requests open few TCP connections", async () => {
    const { a } = await upstreams("a");
    const connections = countConnections(a);
    const gw = await gateway([pool("p", [a.port]), simpleRoute("r", "p")]);
    expect(await tally(gw, 200)).toEqual({ a: 200 });
    expect(connections.count).toBeGreaterThanOrEqual(1);
    expect(connections.count).toBeLessThanOrEqual(2);
  });

  it("keeps a pool's connections across a reload that does not change the pool", async () => {
    const { a, other } = await upstreams("a", "other");
    const connections = countConnections(a);
    const objects = [pool("p", [a.port]), simpleRoute("r", "p")];
    const gw = await gateway(objects);
    expect(await tally(gw, 50)).toEqual({ a: 50 });
    const before = connections.count;
    expect(before).toBeGreaterThanOrEqual(1);
    const versionBefore = ((await (await fetch(`${gw.adminUrl}/status`)).json()) as { version: string })
      .version;

    gw.update([
      ...objects,
      pool("other", [other.port]),
      simpleRoute("unrelated", "other", {}, ["other.example.com"]),
    ]);
    const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { version: string };
    expect(status.version).not.toBe(versionBefore); // the reload happened
    expect(await tally(gw, 50)).toEqual({ a: 50 });
    expect((await gw.request("/", { host: "other.example.com" })).statusCode).toBe(200);
    expect(connections.count).toBe(before);
  });

  it("opens fresh connections when a reload changes the pool", async () => {
    const { a } = await upstreams("a");
    const connections = countConnections(a);
    const gw = await gateway([pool("p", [a.port]), simpleRoute("r", "p")]);
    expect(await tally(gw, 20)).toEqual({ a: 20 });
    const before = connections.count;
    gw.update([pool("p", [a.port], { connection: { idleTimeout: "30s" } }), simpleRoute("r", "p")]);
    expect(await tally(gw, 20)).toEqual({ a: 20 });
    expect(connections.count).toBeGreaterThan(before);
  });
});
