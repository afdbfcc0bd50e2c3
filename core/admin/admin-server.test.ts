// The shared admin server on a real listener (port 0): the probes both processes answer,
// the auth rule for what changes something, and a process's own routes.
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { cleanupAfterEach } from "../../test-support/index.ts";
import { type AdminServerOptions, GUARDED, type Readiness, startAdminServer } from "./admin-server.ts";

const { defer } = cleanupAfterEach();

/** A log whose level the server may change, recording what it was told. */
function fakeLog() {
  const said: object[] = [];
  return {
    said,
    level: "info",
    levels: { values: { debug: 20, info: 30, warn: 40 } },
    info: (details: object) => said.push(details),
  };
}

async function serve(options: Partial<AdminServerOptions> = {}, host = "127.0.0.1") {
  const server = await startAdminServer({ host, port: 0, readiness: () => ({ ready: true }), ...options });
  defer(() => server.close());
  return { server, url: (at = "127.0.0.1") => `http://${at}:${server.address.port}` };
}

async function answer(url: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(url, init);
  const text = await res.body.text();
  return {
    status: res.statusCode,
    type: res.headers["content-type"],
    body: text ? JSON.parse(text) : undefined,
  };
}

/**
 * A client that isLoopback does not count as this host: 127.0.0.2 (isLoopback accepts only
 * 127.0.0.1 and ::1, so even another loopback address is treated as a stranger). Test
 * traffic stays on the loopback interface.
 */
const stranger = new Agent({ localAddress: "127.0.0.2" });

describe("startAdminServer", () => {
  it("answers /healthz with ok", async () => {
    const { url } = await serve();
    expect(await answer(`${url()}/healthz`)).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("answers /readyz 200 or 503 with the readiness as the body", async () => {
    let readiness: Readiness = { ready: false, reason: "caches not synced", synced: false };
    const { url } = await serve({ readiness: () => readiness });
    expect(await answer(`${url()}/readyz`)).toEqual({
      status: 503,
      type: "application/json; charset=utf-8",
      body: { ready: false, reason: "caches not synced", synced: false },
    });
    readiness = { ready: true, synced: true };
    expect(await answer(`${url()}/readyz`)).toMatchObject({
      status: 200,
      body: { ready: true, synced: true },
    });
  });

  it("answers an unknown path, or a method no route takes, 404 with a JSON error", async () => {
    const { url } = await serve();
    expect(await answer(`${url()}/nope`)).toMatchObject({ status: 404, body: { error: "not found" } });
    expect(await answer(`${url()}/healthz`, { method: "POST" })).toMatchObject({
      status: 404,
      body: { error: "not found" },
    });
  });

  it("serves /metrics from the registry, and 404 without one", async () => {
    const registry = { contentType: "text/plain; version=0.0.4", metrics: async () => "up 1\n" };
    const on = await serve({ metrics: registry });
    const res = await request(`${on.url()}/metrics`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4");
    expect(await res.body.text()).toBe("up 1\n");
    const off = await serve();
    expect((await answer(`${off.url()}/metrics`)).status).toBe(404);
  });

  it("changes the log level from loopback, refusing a level the log does not know", async () => {
    const log = fakeLog();
    const { url } = await serve({ log });
    expect(await answer(`${url()}/log-level?level=loud`, { method: "PUT" })).toMatchObject({ status: 400 });
    expect(await answer(`${url()}/log-level?level=debug`, { method: "PUT" })).toMatchObject({
      status: 200,
      body: { level: "debug" },
    });
    expect(log.level).toBe("debug");
    expect(log.said).toEqual([{ level: "debug" }]);
  });

  it("refuses what changes something to a caller that is not this host, without a token, but lets it read", async () => {
    const log = fakeLog();
    const { url } = await serve({ log });
    const from = { dispatcher: stranger };
    expect(await answer(`${url()}/log-level?level=debug`, { method: "PUT", ...from })).toMatchObject({
      status: 403,
      body: { error: "only from loopback" },
    });
    // Refused before routing: a stranger learns nothing about which paths exist.
    expect((await answer(`${url()}/nope`, { method: "DELETE", ...from })).status).toBe(403);
    expect(log.level).toBe("info");
    expect((await answer(`${url()}/healthz`, from)).status).toBe(200);
    expect((await answer(`${url()}/readyz`, from)).status).toBe(200);
  });

  it("with a token, requires it from every client, loopback included", async () => {
    const log = fakeLog();
    const { url } = await serve({ log, adminToken: "a-long-enough-admin-token" });
    expect(await answer(`${url()}/log-level?level=debug`, { method: "PUT" })).toMatchObject({
      status: 403,
      body: { error: "admin token required" },
    });
    expect(
      (
        await answer(`${url()}/log-level?level=warn`, {
          method: "PUT",
          headers: { authorization: "Bearer wrong" },
        })
      ).status,
    ).toBe(403);
    const ok = await answer(`${url()}/log-level?level=warn`, {
      method: "PUT",
      headers: { authorization: "Bearer a-long-enough-admin-token" },
    });
    expect(ok).toMatchObject({ status: 200, body: { level: "warn" } });
  });

  it("serves a process's own routes, guarding a read marked GUARDED", async () => {
    const { url } = await serve({
      adminToken: "a-long-enough-admin-token",
      routes: (admin) => {
        admin.get("/status", async () => ({ mine: true }));
        admin.get("/secret/:name", GUARDED, async (req) => ({ name: (req.params as { name: string }).name }));
      },
    });
    expect(await answer(`${url()}/status`)).toMatchObject({ status: 200, body: { mine: true } });
    expect((await answer(`${url()}/secret/x`)).status).toBe(403);
    expect(
      await answer(`${url()}/secret/x`, { headers: { authorization: "Bearer a-long-enough-admin-token" } }),
    ).toMatchObject({ status: 200, body: { name: "x" } });
  });
});
