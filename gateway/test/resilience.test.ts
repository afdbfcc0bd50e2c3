// Resilience through real sockets: active health checks, passive ejection (outlier
// detection), the circuit breaker, timeouts and retries. Short intervals keep the file
// fast; every assertion is about what a client gets back or what /status shows.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { deadPort, sleep, timeUntil } from "../../test-support/index.ts";
import { closeAfterEach, pool, route, simpleRoute, type TestGateway, type Upstream } from "./harness.ts";

const PROBLEMS = "https://sluice.dev/problems/";

// Everything a test starts is closed after it, even when it fails.
const { upstream, gateway } = closeAfterEach();

function reply(res: ServerResponse, name: string, status = 200, extra: Record<string, unknown> = {}) {
  const body = JSON.stringify({ name, ...extra });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** An upstream whose /healthz answers `state.health` and whose other paths answer its name. */
async function checkedUpstream(name: string) {
  const state = { health: 200 };
  const up = await upstream(name, (req, res) => {
    req.resume();
    if (req.url === "/healthz") return reply(res, name, state.health);
    reply(res, name);
  });
  return Object.assign(up, { state });
}

/** Requests the upstream received that were not health checks. */
const traffic = (up: Upstream) =>
  up.requests.filter((r) => r.headers["user-agent"] !== "sluice-health-check");

async function send(
  gw: TestGateway,
  options: Partial<Dispatcher.RequestOptions> = {},
): Promise<{ status: number; name: string | undefined; body: Record<string, unknown>; ms: number }> {
  const start = performance.now();
  const res = await gw.request("/", options);
  const text = await res.body.text();
  const ms = performance.now() - start;
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { status: res.statusCode, name: body.name as string | undefined, body, ms };
}

/** n sequential GETs; the names that answered (or the status when a problem came back). */
async function answers(gw: TestGateway, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(gw);
    out.push(r.status === 200 ? (r.name ?? "?") : String(r.status));
  }
  return out;
}

async function expectProblem(res: Dispatcher.ResponseData, status: number, type: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers["content-type"]).toBe("application/problem+json");
  const body = (await res.body.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `${PROBLEMS}${type}`, status });
  return body;
}

/** Polls until check() is true; the time it took, or throws after timeoutMs. */
const waitFor = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 2000) =>
  timeUntil(what, check, { timeoutMs });

interface EndpointStatus {
  endpoint: string;
  healthy: boolean;
  activeHealthy: boolean;
  ejectedForMs: number;
  inflight: number;
}

async function endpointsOf(gw: TestGateway, poolId = "test/p"): Promise<Map<number, EndpointStatus>> {
  const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as {
    pools: { id: string; endpoints: EndpointStatus[] }[];
  };
  const p = status.pools.find((x) => x.id === poolId);
  if (!p) throw new Error(`pool ${poolId} not in /status`);
  return new Map(p.endpoints.map((e) => [Number(e.endpoint.split(":").pop()), e]));
}

describe("active health checks", () => {
  const active = {
    path: "/healthz",
    interval: "100ms",
    timeout: "50ms",
    healthyThreshold: 1,
    unhealthyThreshold: 2,
  };

  it("takes an endpoint failing /healthz out of rotation within a second and back when it recovers", async () => {
    const a = await checkedUpstream("a");
    const b = await checkedUpstream("b");
    const gw = await gateway([
      pool("p", [a.port, b.port], { healthCheck: { active } }),
      simpleRoute("r", "p"),
    ]);
    expect(new Set(await answers(gw, 10))).toEqual(new Set(["a", "b"]));

    b.state.health = 500;
    const outMs = await waitFor("b out of rotation", async () =>
      (await answers(gw, 6)).every((n) => n === "a"),
    );
    expect(outMs).toBeLessThan(1000);
    expect(await answers(gw, 30)).toEqual(Array(30).fill("a"));
    const ep = (await endpointsOf(gw)).get(b.port);
    expect(ep).toMatchObject({ healthy: false, activeHealthy: false });
    expect((await endpointsOf(gw)).get(a.port)).toMatchObject({ healthy: true, activeHealthy: true });

    b.state.health = 200;
    const backMs = await waitFor("b back in rotation", async () => (await answers(gw, 4)).includes("b"));
    expect(backMs).toBeLessThan(1000);
    expect(new Set(await answers(gw, 10))).toEqual(new Set(["a", "b"]));
    expect((await endpointsOf(gw)).get(b.port)).toMatchObject({ healthy: true, activeHealthy: true });
  });

  it("counts a check that takes longer than the timeout as failed", async () => {
    const a = await checkedUpstream("a");
    const state = { slow: false };
    const b = await upstream("b", (req, res) => {
      req.resume();
      if (req.url === "/healthz" && state.slow) return setTimeout(() => reply(res, "b"), 80);
      reply(res, "b");
    });
    const gw = await gateway([
      pool("p", [a.port, b.port], { healthCheck: { active } }),
      simpleRoute("r", "p"),
    ]);
    state.slow = true;
    const outMs = await waitFor(
      "b out of rotation",
      async () => !(await endpointsOf(gw)).get(b.port)?.healthy,
    );
    expect(outMs).toBeLessThan(1000);
    expect(await answers(gw, 10)).toEqual(Array(10).fill("a"));
  });

  it("answers 503 no-healthy-endpoint while every endpoint is unhealthy", async () => {
    const a = await checkedUpstream("a");
    const b = await checkedUpstream("b");
    const gw = await gateway([
      pool("p", [a.port, b.port], { healthCheck: { active } }),
      simpleRoute("r", "p"),
    ]);
    a.state.health = 500;
    b.state.health = 503;
    await waitFor("both unhealthy", async () => {
      const eps = await endpointsOf(gw);
      return [...eps.values()].every((e) => !e.healthy);
    });
    const before = traffic(a).length + traffic(b).length;
    const res = await gw.request("/");
    const body = await expectProblem(res, 503, "no-healthy-endpoint");
    expect(body.detail).toContain("test/p");
    expect(res.headers["x-request-id"]).toBeDefined();
    expect(traffic(a).length + traffic(b).length).toBe(before); // nothing was sent upstream

    a.state.health = 200;
    await waitFor("a healthy again", async () => (await send(gw)).status === 200, 1000);
    expect(await answers(gw, 5)).toEqual(Array(5).fill("a"));
  });
});

describe("passive ejection", () => {
  /** An upstream answering 500 while state.failing. */
  async function failing(name: string, initially = true) {
    const state = { failing: initially };
    const up = await upstream(name, (req, res) => {
      req.resume();
      reply(res, name, state.failing ? 500 : 200);
    });
    return Object.assign(up, { state });
  }

  it("ejects an endpoint after 3 consecutive 5xx; the others keep serving; it returns, and is ejected longer the second time", async () => {
    const a = await upstream("a");
    const b = await failing("b");
    const gw = await gateway([
      pool("p", [a.port, b.port], {
        healthCheck: { passive: { consecutiveErrors: 3, baseEjectionTime: "200ms", maxEjectionPercent: 50 } },
      }),
      simpleRoute("r", "p"),
    ]);
    // Round robin: b gets every other request; its third 500 ejects it.
    const first = await answers(gw, 6);
    expect(first.filter((x) => x === "500")).toHaveLength(3);
    const ejectedAt = performance.now();
    const ep = (await endpointsOf(gw)).get(b.port);
    expect(ep?.healthy).toBe(false);
    expect(ep?.ejectedForMs).toBeGreaterThan(0);
    expect(ep?.ejectedForMs).toBeLessThanOrEqual(200);
    expect(await answers(gw, 10)).toEqual(Array(10).fill("a"));
    expect(performance.now() - ejectedAt).toBeLessThan(200); // (the check ran within the ejection)

    // Back after the first ejection (200 ms).
    await sleep(Math.max(0, 230 - (performance.now() - ejectedAt)));
    expect((await endpointsOf(gw)).get(b.port)).toMatchObject({ healthy: true, ejectedForMs: 0 });
    let errors = 0;
    for (let i = 0; i < 20 && errors < 3; i++) if ((await send(gw)).status === 500) errors++;
    expect(errors).toBe(3);

    // The second ejection lasts longer (2 × base): still out when the first one would have ended.
    const second = (await endpointsOf(gw)).get(b.port);
    expect(second?.healthy).toBe(false);
    expect(second?.ejectedForMs).toBeGreaterThan(300);
    const secondAt = performance.now();
    await sleep(250);
    expect(await answers(gw, 10)).toEqual(Array(10).fill("a"));
    expect(performance.now() - secondAt).toBeLessThan(390); // (the check ran within the ejection)
    await sleep(Math.max(0, 430 - (performance.now() - secondAt)));
    b.state.failing = false;
    expect(new Set(await answers(gw, 10))).toEqual(new Set(["a", "b"]));
  });

  it("a success resets the count: errors that are not consecutive never eject", async () => {
    let n = 0;
    const flaky = await upstream("flaky", (req, res) => {
      req.resume();
      reply(res, "flaky", n++ % 3 === 2 ? 200 : 500); // 500, 500, 200, 500, 500, 200 …
    });
    const gw = await gateway([
      pool("p", [flaky.port], {
        healthCheck: { passive: { consecutiveErrors: 3, baseEjectionTime: "5s", maxEjectionPercent: 100 } },
      }),
      simpleRoute("r", "p"),
    ]);
    const seen = await answers(gw, 12);
    expect(seen.filter((x) => x === "500")).toHaveLength(8);
    expect((await endpointsOf(gw)).get(flaky.port)).toMatchObject({ healthy: true, ejectedForMs: 0 });
  });

  it("maxEjectionPercent caps how many endpoints are ejected at once", async () => {
    const a = await upstream("a");
    const b = await failing("b");
    const c = await failing("c");
    const gw = await gateway([
      pool("p", [a.port, b.port, c.port], {
        healthCheck: { passive: { consecutiveErrors: 3, baseEjectionTime: "10s", maxEjectionPercent: 50 } },
      }),
      simpleRoute("r", "p"),
    ]);
    await answers(gw, 30); // both b and c reach 3 consecutive errors
    const eps = await endpointsOf(gw);
    const ejected = [b.port, c.port].filter((port) => (eps.get(port)?.ejectedForMs ?? 0) > 0);
    expect(ejected).toHaveLength(1); // 50% of 3 endpoints: one may be out, not two
    expect(eps.get(a.port)).toMatchObject({ healthy: true, ejectedForMs: 0 });
    // The one that could not be ejected keeps getting (and failing) its share.
    const later = await answers(gw, 20);
    expect(later.filter((x) => x === "500")).toHaveLength(10);
    expect(later.filter((x) => x === "a")).toHaveLength(10);
  });
});

describe("circuit breaker", () => {
  it("answers 503 circuit-open at once beyond maxRequests in flight, and recovers", async () => {
    const slow = await upstream("slow", (req, res) => {
      req.resume();
      setTimeout(() => reply(res, "slow"), 400);
    });
    const gw = await gateway([
      pool("p", [slow.port], { circuitBreaker: { maxRequests: 2 } }),
      simpleRoute("r", "p"),
    ]);
    const inFlight = [send(gw), send(gw)];
    await waitFor("two requests upstream", () => slow.requests.length === 2);
    const start = performance.now();
    const res = await gw.request("/");
    const body = await expectProblem(res, 503, "circuit-open");
    expect(performance.now() - start).toBeLessThan(100);
    expect(body.detail).toContain("test/p");
    expect(slow.requests).toHaveLength(2); // the refused request never reached the upstream
    expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual([200, 200]);
    // Capacity is back once they finished.
    const after = await Promise.all([send(gw), send(gw)]);
    expect(after.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe("timeouts", () => {
  it("answers 504 upstream-timeout when one attempt exceeds backendRequest", async () => {
    const slow = await upstream("slow", (req, res) => {
      req.resume();
      const t = setTimeout(() => reply(res, "slow"), 1000);
      res.on("close", () => clearTimeout(t));
    });
    const gw = await gateway([
      pool("p", [slow.port]),
      simpleRoute("r", "p", { timeouts: { backendRequest: "100ms" } }),
    ]);
    const start = performance.now();
    const res = await gw.request("/");
    await expectProblem(res, 504, "upstream-timeout");
    const ms = performance.now() - start;
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(600);
  });

  it("timeouts.request bounds the whole request, retries and backoff included", async () => {
    const always503 = await upstream("down", (req, res) => {
      req.resume();
      reply(res, "down", 503);
    });
    const gw = await gateway([
      pool("p", [always503.port]),
      simpleRoute("r", "p", {
        timeouts: { request: "300ms" },
        retry: { attempts: 10, retryOn: ["503"], backoff: { base: "50ms", max: "100ms" } },
      }),
    ]);
    const start = performance.now();
    const res = await gw.request("/");
    await expectProblem(res, 504, "upstream-timeout");
    const ms = performance.now() - start;
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(600);
    const tries = always503.requests.length;
    expect(tries).toBeGreaterThanOrEqual(2); // it was retrying when the time ran out
    expect(tries).toBeLessThan(11);
    await sleep(250);
    expect(always503.requests).toHaveLength(tries); // no retries after the client got its answer
  });
});

describe("retries", () => {
  /** Echoes the request body, so a retried POST can be checked for completeness. */
  const echo = (name: string) => (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => reply(res, name, 200, { body: Buffer.concat(chunks).toString() }));
  };

  it("retries a connect failure on the live endpoint: every request succeeds", async () => {
    const dead = await deadPort();
    const live = await upstream("live");
    const gw = await gateway([
      pool("p", [dead, live.port]),
      simpleRoute("r", "p", { retry: { attempts: 2, retryOn: ["connect-failure"] } }),
    ]);
    expect(await answers(gw, 20)).toEqual(Array(20).fill("live"));
  });

  it.each(["RoundRobin", "LeastRequest", "Random"])(
    "%s: a retry avoids every endpoint tried before: 3 of 4 dead and 3 retries, every request succeeds",
    async (algorithm) => {
      // As when three of four backend pods go away at once: the retries must not go back to
      // a pod an earlier attempt already found dead.
      const dead = [await deadPort(), await deadPort(), await deadPort()];
      const live = await upstream("live");
      const gw = await gateway([
        pool("p", [...dead, live.port], { loadBalancing: { algorithm } }),
        simpleRoute("r", "p", { retry: { attempts: 3, retryOn: ["connect-failure"] } }),
      ]);
      expect(await answers(gw, 24)).toEqual(Array(24).fill("live"));
    },
  );

  it("a retry waiting out its backoff while a reload replaces the pool goes to the new pool's endpoints", async () => {
    // As in a scale-down: the endpoint set changes (a new pool is built, the old one closes)
    // between a failed attempt and its retry.
    const dead = await deadPort();
    const live = await upstream("live");
    const retry = { attempts: 1, retryOn: ["connect-failure"], backoff: { base: "300ms", max: "300ms" } };
    const gw = await gateway([pool("p", [dead]), simpleRoute("r", "p", { retry })]);
    const answer = send(gw);
    await sleep(50); // the first attempt has failed; the retry waits 150–300 ms
    gw.update([pool("p", [dead, live.port]), simpleRoute("r", "p", { retry })]);
    const { status, name } = await answer;
    expect({ status, name }).toEqual({ status: 200, name: "live" });
  });

  it("retries a connect failure on another endpoint with ConsistentHash too: every request succeeds", async () => {
    // API reference: retry is "Retries of failed attempts to another endpoint".
    const dead = await deadPort();
    const live = await upstream("live");
    const gw = await gateway([
      pool("p", [dead, live.port], {
        loadBalancing: { algorithm: "ConsistentHash", consistentHash: { header: "x-user" } },
      }),
      simpleRoute("r", "p", { retry: { attempts: 2, retryOn: ["connect-failure"] } }),
    ]);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await send(gw, { headers: { "x-user": `u${i}` } })).status);
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it("retries a POST with a body after a connect failure (nothing was sent) and delivers the body intact", async () => {
    const dead = await deadPort();
    const live = await upstream("live", echo("live"));
    const gw = await gateway([
      pool("p", [dead, live.port]),
      simpleRoute("r", "p", { retry: { attempts: 2, retryOn: ["connect-failure"] } }),
    ]);
    for (let i = 0; i < 4; i++) {
      const r = await send(gw, {
        method: "POST",
        body: `payload-${i}`,
        headers: { "content-type": "text/plain" },
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ name: "live", body: `payload-${i}` });
    }
  });

  it('retries a 503 with retryOn ["503"]: the client sees 200, the upstream saw 2 requests', async () => {
    let n = 0;
    const up = await upstream("up", (req, res) => {
      req.resume();
      reply(res, "up", n++ === 0 ? 503 : 200);
    });
    const gw = await gateway([
      pool("p", [up.port]),
      simpleRoute("r", "p", { retry: { attempts: 2, retryOn: ["503"] } }),
    ]);
    const r = await send(gw);
    expect(r.status).toBe(200);
    expect(r.name).toBe("up");
    expect(up.requests).toHaveLength(2);
  });

  it("does not retry a POST with a body on 503: the client gets the 503", async () => {
    let n = 0;
    const up = await upstream("up", (req, res) => {
      req.resume();
      req.on("end", () => reply(res, "up", n++ === 0 ? 503 : 200));
    });
    const gw = await gateway([
      pool("p", [up.port]),
      simpleRoute("r", "p", { retry: { attempts: 2, retryOn: ["503"] } }),
    ]);
    const r = await send(gw, { method: "POST", body: "order=1", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ name: "up" }); // the upstream's own answer, passed through
    expect(up.requests).toHaveLength(1);
  });

  it("retries a reset (socket destroyed without an answer) on the other endpoint only with retryOn reset", async () => {
    const resetter = await upstream("resetter", (req) => req.socket.destroy());
    const good = await upstream("good");
    const objects = (retryOn: string[]) => [
      pool("p", [resetter.port, good.port]),
      simpleRoute("r", "p", { retry: { attempts: 1, retryOn } }),
    ];
    const gw = await gateway(objects(["reset"]));
    expect(await answers(gw, 10)).toEqual(Array(10).fill("good"));
    expect(resetter.requests.length).toBeGreaterThanOrEqual(4);

    gw.update(objects(["connect-failure"]));
    const results: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await gw.request("/");
      if (res.statusCode === 200) {
        results.push(((await res.body.json()) as { name: string }).name);
      } else {
        const body = await expectProblem(res, 502, "upstream-failed");
        expect(body.detail).toContain("reset");
        results.push("502");
      }
    }
    expect(results.filter((x) => x === "502").length).toBeGreaterThanOrEqual(4);
    expect(results.filter((x) => x === "good").length).toBeGreaterThanOrEqual(4);
  });

  it("answers 502 upstream-failed quickly for a dead endpoint without retries", async () => {
    const dead = await deadPort();
    const gw = await gateway([pool("p", [dead]), simpleRoute("r", "p")]);
    const start = performance.now();
    const res = await gw.request("/");
    const body = await expectProblem(res, 502, "upstream-failed");
    expect(performance.now() - start).toBeLessThan(500);
    expect(body.detail).toContain("connect-failure");
    expect(res.headers["x-request-id"]).toBeDefined();
  });
});

describe("routes with several backends", () => {
  it("a failing pool behind one backendRef does not affect the other's traffic", async () => {
    const dead = await deadPort();
    const live = await upstream("live");
    const gw = await gateway([
      pool("down", [dead]),
      pool("up", [live.port]),
      route("r", {
        rules: [
          {
            backendRefs: [
              { name: "down", weight: 1 },
              { name: "up", weight: 1 },
            ],
          },
        ],
      }),
    ]);
    const seen = await answers(gw, 10);
    expect(seen.filter((x) => x === "live")).toHaveLength(5);
    expect(seen.filter((x) => x === "502")).toHaveLength(5);
  });
});
