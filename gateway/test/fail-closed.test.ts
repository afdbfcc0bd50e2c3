// Fail closed, standalone: a table of invalid edits (gateway/test/invalid-edits.ts), each
// applied to a running gateway whose /admin and /jwt routes are protected. After every
// edit no request without the credential reaches the upstream, the credential still works
// where a last good version exists (503 policy-invalid where old key material must not be
// trusted), and /status names the field. The same table runs on a real API server in e2e.
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { closeAfterEach, json, type TestGateway, type Upstream } from "./harness.ts";
import { INVALID_EDITS, OPS_KEY, protectedWorld, signedToken } from "./invalid-edits.ts";

const t = closeAfterEach();

/** Status of each protected request, and how many reached the upstream. */
async function probe(gw: TestGateway, up: Upstream) {
  const before = up.requests.length;
  const status = async (path: string, method: string, headers: Record<string, string> = {}) => {
    const res = await gw.request(path, { method: method as "GET", headers });
    await res.body.dump();
    return res.statusCode;
  };
  const anonymous = [
    await status("/admin/users", "GET"),
    await status("/admin/users", "POST"),
    await status("/jwt/orders", "GET"),
    await status("/jwt/orders", "GET", { "x-client": "cli", authorization: "Bearer not.a.token" }),
    await status("/admin/users", "GET", { "x-api-key": "ops-0123456789abcdef-kez" }),
  ];
  const reachedAnonymously = up.requests.length - before;
  const admin = await status("/admin/users", "GET", { "x-api-key": OPS_KEY });
  const jwt = await status("/jwt/orders", "GET", { authorization: `Bearer ${await signedToken()}` });
  return { anonymous, reachedAnonymously, admin, jwt };
}

describe("an invalid edit never opens a protected route (standalone)", () => {
  it("the world is protected before any edit", async () => {
    const up = await t.upstream("app");
    const gw = await t.gateway(protectedWorld({ address: "127.0.0.1", port: up.port }));
    const p = await probe(gw, up);
    expect(p).toEqual({ anonymous: [401, 401, 401, 401, 401], reachedAnonymously: 0, admin: 200, jwt: 200 });
  });

  it("has at least 25 distinct edits", () => {
    expect(new Set(INVALID_EDITS.map((e) => e.name)).size).toBeGreaterThanOrEqual(25);
  });

  it.each(INVALID_EDITS)("$name", async (edit) => {
    const up = await t.upstream("app");
    const world = protectedWorld({ address: "127.0.0.1", port: up.port });
    const gw = await t.gateway(world);
    const byName = Object.fromEntries(structuredClone(world).map((o) => [o.metadata.name, o]));
    edit.edit(byName);
    gw.update(Object.values(byName));

    const p = await probe(gw, up);
    expect(p.reachedAnonymously).toBe(0);
    for (const s of p.anonymous) expect([401, 403, 503]).toContain(s);
    expect({ admin: p.admin, jwt: p.jwt }).toEqual({ admin: 200, jwt: 200, ...edit.withCredential });

    const status = await json<{ objects?: unknown[]; lastRejected?: { reason: string } }>(
      await request(`${gw.adminUrl}/status`),
    );
    const told = edit.refusedAsDocument ? status.lastRejected?.reason : JSON.stringify(status.objects);
    expect(told).toContain(edit.field);
  });
});

describe("an invalid object with no good version to keep refuses, never forwards (standalone start)", () => {
  it.each(INVALID_EDITS)("$name", async (edit) => {
    const up = await t.upstream("app");
    const byName = Object.fromEntries(
      protectedWorld({ address: "127.0.0.1", port: up.port }).map((o) => [o.metadata.name, o]),
    );
    edit.edit(byName);
    const gw = await t.gateway(Object.values(byName));
    const p = await probe(gw, up);
    expect(p.reachedAnonymously).toBe(0);
    for (const s of p.anonymous) expect([401, 403, 503]).toContain(s);
    // An unrelated change recompiles with what is served as the previous snapshot: a
    // refusing placeholder must not become a "last good version" and start forwarding.
    const unrelated = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "unrelated", namespace: "test" },
    };
    gw.update([...Object.values(byName), unrelated]);
    expect(await probe(gw, up)).toEqual(p);
    // With the credential, what is left may serve (200) or refuse: 503 policy-invalid, 401
    // for a key that is not accepted, 500 for a pool that is not — nothing good to serve.
    expect([200, 401, 500, 503]).toContain(p.admin);
    expect([200, 401, 500, 503]).toContain(p.jwt);
  });
});
