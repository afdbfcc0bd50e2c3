// The auth module against a real JWKS endpoint (node:http on 127.0.0.1): key rotation,
// an IdP that is down, slow or oversized, and a flood of unknown kids.
import { beforeAll, describe, expect, it } from "vitest";
import type { SnapshotAuthzPolicy } from "../../core/api/snapshot/schema.ts";
import { cleanupAfterEach, sleep } from "../../test-support/index.ts";
import { ISSUER, makeKey, provider, sign, type TestKey } from "../../test-support/test-tokens.ts";
import type { AuthFailure, AuthRequest } from "../src/auth/auth-policy.ts";
import { type AuthRuntime, type AuthRuntimeOptions, buildAuthRuntime } from "../src/auth/auth-runtime.ts";
import type { RemoteJwksOptions } from "../src/auth/remote-jwks.ts";
import { startIdp } from "./auth-idp.ts";

let k1: TestKey;
let k2: TestKey;
const { defer } = cleanupAfterEach();

beforeAll(async () => {
  k1 = await makeKey("k1");
  k2 = await makeKey("k2", "ES256");
});

let serial = 0;
/** Fresh claims; the jti makes every token distinct, so none is answered from the verified-token cache. */
const claims = () => {
  const t = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: "api", sub: "user-1", iat: t, exp: t + 300, jti: `t-${++serial}` };
};

/** One policy whose JWT provider takes its keys from `uri`. */
function runtimeFor(uri: string, options: Omit<AuthRuntimeOptions, "hashKey">, previous?: AuthRuntime) {
  const policy: SnapshotAuthzPolicy = {
    id: "shop/p",
    authentication: { require: "Any", jwt: [provider({ keys: { jwksUri: uri } })] },
    rules: [],
    defaultAction: "Allow",
  };
  const runtime = buildAuthRuntime(
    { authzPolicies: [policy], apiKeys: { hashKeyId: "", keys: [] } },
    { hashKey: "h", ...options },
    previous,
  );
  const policyRuntime = runtime.policy("shop/p");
  if (!policyRuntime) throw new Error("policy missing");
  const check = (token: string) => {
    const request: AuthRequest = {
      method: "GET",
      path: "/",
      query: "",
      headers: { authorization: `Bearer ${token}` },
      client: "127.0.0.1",
    };
    return policyRuntime.check(request);
  };
  return { runtime, check };
}

const JWKS: Partial<RemoteJwksOptions> = { cooldownMs: 100, refreshIntervalMs: 60_000, timeoutMs: 1_000 };

async function setup(jwks: Partial<RemoteJwksOptions> = {}) {
  const idp = await startIdp([k1.publicJwk]);
  defer(() => idp.close());
  const failures: AuthFailure[] = [];
  const { runtime, check } = runtimeFor(idp.uri, {
    onFailure: (f) => failures.push(f),
    jwks: { ...JWKS, ...jwks },
  });
  return { idp, runtime, check, failures };
}

describe("auth against a real JWKS endpoint", () => {
  it("fetches the keys at load, once, and verifies tokens with them", async () => {
    const { idp, check } = await setup();
    expect(await check(await sign(k1, claims()))).toMatchObject({ allowed: true });
    expect(await check(await sign(k1, claims()))).toMatchObject({ allowed: true });
    expect(idp.requests).toBe(1);
  });

  it("rotation: a token with a new kid is accepted after one refetch", async () => {
    const { idp, check } = await setup();
    expect((await check(await sign(k1, claims()))).allowed).toBe(true);
    idp.keys = [k1.publicJwk, k2.publicJwk];
    await sleep(150); // past the cooldown since the load-time fetch
    expect(await check(await sign(k2, claims()))).toMatchObject({ allowed: true });
    expect(idp.requests).toBe(2);
    // A key the IdP retires keeps working until the next scheduled refresh
    // (refreshIntervalMs): an unknown kid refetches, a known one does not.
    idp.keys = [k2.publicJwk];
    await sleep(150);
    expect((await check(await sign(k1, claims()))).allowed).toBe(true);
    expect(idp.requests).toBe(2);
  });

  it("a flood of unknown kids costs the IdP at most one fetch per cooldown", async () => {
    const { idp, check, failures } = await setup({ cooldownMs: 60_000 });
    expect((await check(await sign(k1, claims()))).allowed).toBe(true);
    const attacker = await makeKey("whatever");
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => sign(attacker, claims(), { kid: `random-${i}` }).then(check)),
    );
    expect(results.every((r) => !r.allowed && r.status === 401)).toBe(true);
    expect(idp.requests).toBe(1);
    expect(failures).toHaveLength(100);
    expect(failures[0]).toMatchObject({ method: "jwt", reason: "unknownKey", client: "127.0.0.1" });
  });

  it.each(["error", "reset"] as const)("IdP down (%s): cached keys keep verifying", async (mode) => {
    const { idp, runtime, check } = await setup({ refreshIntervalMs: 50 });
    expect((await check(await sign(k1, claims()))).allowed).toBe(true);
    idp.mode = mode;
    await sleep(150);
    for (let i = 0; i < 5; i++) {
      expect((await check(await sign(k1, claims()))).allowed).toBe(true);
      await sleep(40);
    }
    // It did try again in the background, and says why it failed.
    expect(idp.requests).toBeGreaterThan(1);
    expect(runtime.remoteJwks.get(idp.uri)?.lastError).toBeDefined();
    // A new kid cannot be had while it is down.
    expect((await check(await sign(k2, claims()))).allowed).toBe(false);
    idp.mode = "up";
    idp.keys = [k1.publicJwk, k2.publicJwk];
    await sleep(150);
    expect((await check(await sign(k2, claims()))).allowed).toBe(true);
  });

  it("IdP slow: the fetch is cut at the timeout, the client gets 401 quickly, and is not blamed", async () => {
    const idp = await startIdp([k1.publicJwk]);
    defer(() => idp.close());
    idp.mode = "slow";
    idp.slowMs = 10_000;
    const failures: AuthFailure[] = [];
    const { runtime, check } = runtimeFor(idp.uri, {
      onFailure: (f) => failures.push(f),
      jwks: { timeoutMs: 300, cooldownMs: 0 },
    });
    const started = Date.now();
    const d = await check(await sign(k1, claims()));
    const elapsed = Date.now() - started;
    expect(d).toMatchObject({
      allowed: false,
      status: 401,
      reason: "jwt:keysUnavailable",
      headers: { "www-authenticate": 'Bearer error="invalid_token"' },
    });
    expect(elapsed).toBeLessThan(2_000);
    expect(failures).toHaveLength(0);
    expect(runtime.remoteJwks.get(idp.uri)?.lastError).toMatch(/abort|timeout/i);
  });

  it("an oversized JWKS is refused", async () => {
    const idp = await startIdp([k1.publicJwk]);
    defer(() => idp.close());
    idp.padding = 300_000;
    const { runtime, check } = runtimeFor(idp.uri, { jwks: { maxBytes: 64 * 1024, cooldownMs: 0 } });
    const d = await check(await sign(k1, claims()));
    expect(d).toMatchObject({ allowed: false, reason: "jwt:keysUnavailable" });
    expect(runtime.remoteJwks.get(idp.uri)?.lastError).toMatch(/larger than/);
  });

  it("a reloaded snapshot takes over the key cache (no refetch, keys kept while the IdP is down)", async () => {
    const { idp, runtime, check } = await setup();
    expect((await check(await sign(k1, claims()))).allowed).toBe(true);
    idp.mode = "error";
    const next = runtimeFor(idp.uri, { jwks: JWKS }, runtime);
    expect(next.runtime.remoteJwks.get(idp.uri)).toBe(runtime.remoteJwks.get(idp.uri));
    const d = await next.check(await sign(k1, claims()));
    expect(d?.allowed).toBe(true);
    expect(idp.requests).toBe(1);
  });
});
