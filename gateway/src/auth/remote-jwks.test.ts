import { errors } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { makeKey, type TestKey } from "../../../test-support/test-tokens.ts";
import { KeysUnavailableError, RemoteJwks } from "./remote-jwks.ts";

let k1: TestKey;
let k2: TestKey;
beforeAll(async () => {
  k1 = await makeKey("k1");
  k2 = await makeKey("k2");
});

/** A fake IdP: serves `keys`, or fails while `down`; counts calls. */
function idp() {
  const state = { keys: [] as unknown[], down: false, calls: 0, body: undefined as string | undefined };
  const fetchImpl = (async () => {
    state.calls++;
    if (state.down) throw new TypeError("fetch failed");
    return new Response(state.body ?? JSON.stringify({ keys: state.keys }), {
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return { state, fetchImpl };
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const opts = { cooldownMs: 30_000, refreshIntervalMs: 300_000, timeoutMs: 1_000 };

describe("RemoteJwks", () => {
  it("fetches once, then serves from cache", async () => {
    const { state, fetchImpl } = idp();
    state.keys = [k1.publicJwk];
    const c = clock();
    const jwks = new RemoteJwks("https://idp.test/jwks", { ...opts, fetch: fetchImpl, now: c.now });
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    expect(state.calls).toBe(1);
  });

  it("an unknown kid triggers one refetch; within the cooldown, further unknown kids do not fetch", async () => {
    const { state, fetchImpl } = idp();
    state.keys = [k1.publicJwk];
    const c = clock();
    const jwks = new RemoteJwks("https://idp.test/jwks", { ...opts, fetch: fetchImpl, now: c.now });
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    c.t += 31_000;
    await expect(jwks.keyFor({ alg: "RS256", kid: "random-1" })).rejects.toBeInstanceOf(
      errors.JWKSNoMatchingKey,
    );
    expect(state.calls).toBe(2);
    for (let i = 0; i < 50; i++) {
      await expect(jwks.keyFor({ alg: "RS256", kid: `random-${i}` })).rejects.toBeInstanceOf(
        errors.JWKSNoMatchingKey,
      );
    }
    expect(state.calls).toBe(2);
    // A rotation after the cooldown is picked up by the first token naming the new kid.
    state.keys = [k1.publicJwk, k2.publicJwk];
    c.t += 31_000;
    await expect(jwks.keyFor({ alg: "RS256", kid: "k2" })).resolves.toBeDefined();
    expect(state.calls).toBe(3);
  });

  it("concurrent unknown kids share one fetch", async () => {
    const { state, fetchImpl } = idp();
    state.keys = [k1.publicJwk];
    const jwks = new RemoteJwks("https://idp.test/jwks", { ...opts, fetch: fetchImpl, now: clock().now });
    const all = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => jwks.keyFor({ alg: "RS256", kid: `x${i}` })),
    );
    expect(all.every((r) => r.status === "rejected")).toBe(true);
    expect(state.calls).toBe(1);
  });

  it("serves stale keys while the IdP is down, refreshing in the background at most once per cooldown", async () => {
    const { state, fetchImpl } = idp();
    state.keys = [k1.publicJwk];
    const c = clock();
    const jwks = new RemoteJwks("https://idp.test/jwks", { ...opts, fetch: fetchImpl, now: c.now });
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    state.down = true;
    c.t += 301_000;
    for (let i = 0; i < 10; i++)
      await expect(jwks.keyFor({ alg: "RS256", kid: "k1" })).resolves.toBeDefined();
    await new Promise((r) => setTimeout(r, 10));
    expect(state.calls).toBe(2);
    expect(jwks.lastError).toMatch(/fetch failed/);
    c.t += 31_000;
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    await new Promise((r) => setTimeout(r, 10));
    expect(state.calls).toBe(3);
  });

  it("without any keys, a down IdP gives KeysUnavailable, retried at most once per cooldown", async () => {
    const { state, fetchImpl } = idp();
    state.down = true;
    const c = clock();
    const jwks = new RemoteJwks("https://idp.test/jwks", { ...opts, fetch: fetchImpl, now: c.now });
    for (let i = 0; i < 5; i++)
      await expect(jwks.keyFor({ alg: "RS256", kid: "k1" })).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(state.calls).toBe(1);
    state.down = false;
    state.keys = [k1.publicJwk];
    c.t += 30_000;
    await expect(jwks.keyFor({ alg: "RS256", kid: "k1" })).resolves.toBeDefined();
    expect(state.calls).toBe(2);
  });

  it("refuses a response over maxBytes, a non-JWKS body and an HTTP error, keeping earlier keys", async () => {
    const { state, fetchImpl } = idp();
    state.keys = [k1.publicJwk];
    const c = clock();
    const jwks = new RemoteJwks("https://idp.test/jwks", {
      ...opts,
      maxBytes: 4096,
      fetch: fetchImpl,
      now: c.now,
    });
    await jwks.keyFor({ alg: "RS256", kid: "k1" });
    for (const body of [
      JSON.stringify({ keys: [k2.publicJwk], pad: "x".repeat(10_000) }),
      "{}",
      "not json",
    ]) {
      state.body = body;
      c.t += 31_000;
      await expect(jwks.keyFor({ alg: "RS256", kid: "k2" })).rejects.toBeDefined();
      await expect(jwks.keyFor({ alg: "RS256", kid: "k1" })).resolves.toBeDefined();
    }
    expect(jwks.lastError).toBeDefined();
  });

  it("refuses bad options at construction", () => {
    expect(() => new RemoteJwks("https://x", { timeoutMs: -1 })).toThrow(/timeoutMs/);
  });
});
