// Metrics and access logs, checked after driving known traffic: the counters and
// histogram counts must match exactly, and no credential may reach any log line.
import { Writable } from "node:stream";
import { pino } from "pino";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { deadPort, eventually } from "../../test-support/index.ts";
import { closeAfterEach, pool, simpleRoute } from "./harness.ts";

const t = closeAfterEach();

/** A stream that keeps every JSON line written to it. */
function lines() {
  const out: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        raw.push(line);
        out.push(JSON.parse(line));
      }
      done();
    },
  });
  return { out, raw, stream };
}

/** The value of one sample in Prometheus text format, e.g. sample(text, 'x_total{a="b"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  expect(res.statusCode).toBe(200);
  expect(res.headers["content-type"]).toContain("text/plain");
  return res.body.text();
}

describe("metrics", () => {
  it("counts requests by route, method and status class, exactly", async () => {
    const up = await t.upstream("a");
    const dead = await deadPort();
    const gw = await t.gateway([
      pool("a", [up.port]),
      pool("dead", [dead]),
      simpleRoute("a", "a", { matches: [{ path: { type: "PathPrefix", value: "/a" } }] }),
      simpleRoute("dead", "dead", { matches: [{ path: { type: "PathPrefix", value: "/dead" } }] }),
    ]);
    for (let i = 0; i < 5; i++) await (await gw.request("/a/x")).body.dump();
    for (let i = 0; i < 2; i++) await (await gw.request("/a/y", { method: "POST", body: "{}" })).body.dump();
    for (let i = 0; i < 3; i++) await (await gw.request("/nowhere")).body.dump();
    for (let i = 0; i < 2; i++) await (await gw.request("/dead")).body.dump();
    const text = await scrape(gw.adminUrl);
    expect(sample(text, 'sluice_requests_total{route="test/a",method="GET",status_class="2xx"}')).toBe(5);
    expect(sample(text, 'sluice_requests_total{route="test/a",method="POST",status_class="2xx"}')).toBe(2);
    expect(sample(text, 'sluice_requests_total{route="(none)",method="GET",status_class="4xx"}')).toBe(3);
    expect(sample(text, 'sluice_requests_total{route="test/dead",method="GET",status_class="5xx"}')).toBe(2);
    expect(sample(text, 'sluice_request_duration_seconds_count{route="test/a"}')).toBe(7);
    expect(sample(text, 'sluice_request_duration_seconds_bucket{le="10",route="test/a"}')).toBe(7);
    expect(sample(text, 'sluice_upstream_duration_seconds_count{pool="test/a"}')).toBe(7);
    expect(
      sample(
        text,
        `sluice_upstream_errors_total{pool="test/dead",upstream="127.0.0.1:${dead}",kind="connect-failure"}`,
      ),
    ).toBe(2);
    expect(sample(text, `sluice_endpoint_healthy{pool="test/a",upstream="127.0.0.1:${up.port}"}`)).toBe(1);
    expect(sample(text, 'sluice_circuit_breaker_open{pool="test/a"}')).toBe(0);
    expect(sample(text, 'sluice_snapshot_reloads_total{result="loaded"}')).toBe(1);
    expect(text).toMatch(/^sluice_snapshot_info\{version="sha256:[0-9a-f]{64}"\} 1$/m);
    expect(sample(text, "sluice_active_connections")).toBeGreaterThanOrEqual(0);
    // Bounded labels: no path, query or client address appears as a label value.
    expect(text).not.toContain("/nowhere");
    expect(text).not.toContain("/a/x");
  });

  it("counts retries, and rejected snapshots", async () => {
    const dead = await deadPort();
    const up = await t.upstream("b");
    const gw = await t.gateway([
      pool("b", [dead, up.port], { loadBalancing: { algorithm: "RoundRobin" } }),
      simpleRoute("b", "b", { retry: { attempts: 2, retryOn: ["connect-failure"] } }),
    ]);
    let retried = 0;
    for (let i = 0; i < 4; i++) {
      const res = await gw.request("/");
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    const text = await scrape(gw.adminUrl);
    retried = sample(text, 'sluice_retries_total{route="test/b"}') ?? 0;
    const failures =
      sample(
        text,
        `sluice_upstream_errors_total{pool="test/b",upstream="127.0.0.1:${dead}",kind="connect-failure"}`,
      ) ?? 0;
    expect(retried).toBeGreaterThan(0);
    expect(retried).toBe(failures);
    gw.handle.loader.load({ apiVersion: "nonsense" }, "test");
    expect(sample(await scrape(gw.adminUrl), 'sluice_snapshot_reloads_total{result="rejected"}')).toBe(1);
  });

  it("is off with --metrics=false", async () => {
    const gw = await t.gateway([], { metrics: false });
    expect((await request(`${gw.adminUrl}/metrics`)).statusCode).toBe(404);
  });
});

describe("access log", () => {
  it("writes one line per request, field by field, and never a credential", async () => {
    const access = lines();
    const app = lines();
    const up = await t.upstream("logged");
    const gw = await t.gateway(
      [pool("logged", [up.port]), simpleRoute("logged", "logged")],
      { accessLog: true },
      { accessLogStream: access.stream, log: pino({ level: "trace" }, app.stream) },
    );
    const res = await gw.request("/orders/./42?api_key=query-secret-123&x=1", {
      method: "POST",
      body: "hello",
      headers: {
        authorization: "Bearer header-secret-jwt",
        "x-api-key": "key-secret-456",
        cookie: "session=cookie-secret-789",
        "x-request-id": "req-1",
        "content-type": "text/plain",
      },
    });
    const body = await res.body.text();
    expect(res.statusCode).toBe(200);
    await (await gw.request("/refused%2Fpath")).body.dump();
    await eventually("two access-log lines", () => access.out.length >= 2, { timeoutMs: 2000 });
    expect(access.out).toHaveLength(2);
    const line = access.out[0] as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      requestId: "req-1",
      route: "test/logged",
      method: "POST",
      path: "/orders/42",
      status: 200,
      attempts: 1,
      bytesIn: 5,
      bytesOut: Buffer.byteLength(body),
      upstream: `127.0.0.1:${up.port}`,
      pool: "test/logged",
      client: "127.0.0.1",
    });
    expect(typeof line.time).toBe("string");
    expect(line.durationMs as number).toBeGreaterThan(0);
    expect(line.upstreamMs as number).toBeGreaterThan(0);
    expect(line.upstreamMs as number).toBeLessThanOrEqual(line.durationMs as number);
    expect(access.out[1]).toMatchObject({ route: "(none)", status: 400, attempts: 0 });
    // The gateway's own answers count too (the problem+json body).
    expect(access.out[1]?.bytesOut as number).toBeGreaterThan(50);
    for (const text of [...access.raw, ...app.raw]) {
      for (const secret of ["query-secret-123", "header-secret-jwt", "key-secret-456", "cookie-secret-789"]) {
        expect(text).not.toContain(secret);
      }
    }
  });

  it("changes the log level at runtime, from loopback only unless a token is set", async () => {
    const app = lines();
    const gw = await t.gateway([], {}, { log: pino({ level: "info" }, app.stream) });
    const bad = await request(`${gw.adminUrl}/log-level?level=loud`, { method: "PUT" });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    const ok = await request(`${gw.adminUrl}/log-level?level=debug`, { method: "PUT" });
    expect(await ok.body.json()).toEqual({ level: "debug" });
    const guarded = await t.gateway([], { adminToken: "a-long-enough-admin-token" });
    const refused = await request(`${guarded.adminUrl}/log-level?level=debug`, { method: "PUT" });
    expect(refused.statusCode).toBe(403);
    await refused.body.dump();
    const allowed = await request(`${guarded.adminUrl}/log-level?level=warn`, {
      method: "PUT",
      headers: { authorization: "Bearer a-long-enough-admin-token" },
    });
    expect(allowed.statusCode).toBe(200);
    await allowed.body.dump();
  });
});
