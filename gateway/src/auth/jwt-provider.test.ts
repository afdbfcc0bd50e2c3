import { createHmac } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  baseClaims,
  ISSUER,
  makeKey,
  NOW_MS,
  nowSeconds,
  provider,
  rawToken,
  sign,
  signHmac,
  signRawRs256,
  type TestKey,
} from "../../../test-support/test-tokens.ts";
import { JwtProvider } from "./jwt-provider.ts";

let rsa: TestKey;
let rsa2: TestKey;
let ec: TestKey;
let jwksProvider: JwtProvider;
const now = () => NOW_MS;
const secret = new Uint8Array(Buffer.from("s".repeat(32)));

beforeAll(async () => {
  rsa = await makeKey("rsa-1");
  rsa2 = await makeKey("rsa-2");
  ec = await makeKey("ec-1", "ES256");
  jwksProvider = new JwtProvider(
    provider({ keys: { jwks: { keys: [rsa.publicJwk, rsa2.publicJwk, ec.publicJwk] } } }),
    {
      now,
    },
  );
});

const hmacProvider = (overrides = {}) =>
  new JwtProvider(
    provider({
      algorithms: ["HS256"],
      keys: { hmacSecret: Buffer.from(secret).toString("base64") },
      ...overrides,
    }),
    { now },
  );

describe("JwtProvider accepts", () => {
  it("a good RS256 and ES256 token", async () => {
    expect(await jwksProvider.verify(await sign(rsa))).toMatchObject({ ok: true, claims: { sub: "user-1" } });
    expect(await jwksProvider.verify(await sign(ec))).toMatchObject({ ok: true });
  });
  it("a good HS256 token with the shared secret", async () => {
    expect(await hmacProvider().verify(await signHmac(secret))).toMatchObject({ ok: true });
  });
  it("no kid when the set has a single key", async () => {
    const single = new JwtProvider(provider({ keys: { jwks: { keys: [rsa.publicJwk] } } }), { now });
    expect(await single.verify(await sign(rsa, baseClaims(), { kid: undefined }))).toMatchObject({
      ok: true,
    });
  });
  it.each([
    ["expired 20s ago, skew 30s", { exp: nowSeconds() - 20 }],
    ["nbf 20s ahead, skew 30s", { nbf: nowSeconds() + 20 }],
    ["iat 20s ahead, skew 30s", { iat: nowSeconds() + 20 }],
  ])("within clock skew: %s", async (_, claims) => {
    expect(await jwksProvider.verify(await sign(rsa, baseClaims(claims)))).toMatchObject({ ok: true });
  });
});

describe("JwtProvider refuses (attacks)", () => {
  it.each(["none", "None", "NONE", "nOnE"])('alg "%s"', async (alg) => {
    const token = rawToken({ alg, kid: rsa.kid }, baseClaims());
    expect(await jwksProvider.verify(token)).toMatchObject({ ok: false, reason: "algorithm" });
    expect(await jwksProvider.verify(`${token}AAAA`)).toMatchObject({ ok: false });
    expect(await hmacProvider().verify(token)).toMatchObject({ ok: false });
  });

  it("HS256 signed with the RSA public key (PEM and JWK n) against a JWKS provider: key confusion", async () => {
    for (const material of [rsa.publicPem, String(rsa.publicJwk.n)]) {
      const token = await signHmac(new Uint8Array(Buffer.from(material)), baseClaims());
      const withKid = rawToken({ alg: "HS256", kid: rsa.kid }, baseClaims());
      const [h, p] = withKid.split(".");
      const sig = createHmac("sha256", material).update(`${h}.${p}`).digest("base64url");
      for (const t of [token, `${h}.${p}.${sig}`]) {
        expect(await jwksProvider.verify(t)).toMatchObject({ ok: false, reason: "algorithm" });
      }
    }
  });

  it("a provider with a JWKS drops HS* even if the snapshot lists it, and refuses when nothing is left", () => {
    expect(
      () => new JwtProvider(provider({ algorithms: ["HS256"], keys: { jwks: { keys: [] } } }), { now }),
    ).toThrow(/SLUICE_SNAPSHOT_REJECTED/);
    expect(
      () => new JwtProvider(provider({ algorithms: ["RS256"], keys: { hmacSecret: "c2VjcmV0" } }), { now }),
    ).toThrow(/SLUICE_SNAPSHOT_REJECTED/);
  });

  it("an RS256 token against an HMAC provider", async () => {
    expect(await hmacProvider().verify(await sign(rsa))).toMatchObject({ ok: false, reason: "algorithm" });
  });

  it("a tampered payload or signature", async () => {
    const token = await sign(rsa);
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url");
    expect(await jwksProvider.verify(`${h}.${forged}.${s}`)).toMatchObject({
      ok: false,
      reason: "signature",
    });
    const flipped = s.slice(0, 10) + (s[10] === "A" ? "B" : "A") + s.slice(11);
    expect(await jwksProvider.verify(`${h}.${p}.${flipped}`)).toMatchObject({
      ok: false,
      reason: "signature",
    });
    expect(await jwksProvider.verify(`${h}.${p}`)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("a token signed by a key with another key's kid", async () => {
    expect(await jwksProvider.verify(await sign(rsa2, baseClaims(), { kid: rsa.kid }))).toMatchObject({
      ok: false,
      reason: "signature",
    });
  });

  it.each([
    ["expired beyond skew", { exp: nowSeconds() - 31 }, "expired"],
    ["nbf beyond skew", { nbf: nowSeconds() + 31 }, "notYetValid"],
    ["iat in the future beyond skew", { iat: nowSeconds() + 31 }, "issuedInFuture"],
    ["wrong issuer", { iss: "https://evil.test/" }, "issuer"],
    ["wrong audience", { aud: "other" }, "audience"],
    ["no exp", { exp: undefined }, "missingClaim"],
    ["exp not a number", { exp: "never" }, "expired"],
  ])("%s", async (_, claims, reason) => {
    const outcome = await jwksProvider.verify(await sign(rsa, { ...baseClaims(), ...claims } as never));
    expect(outcome).toMatchObject({ ok: false, reason });
  });

  it("expired with zero skew, naming no subject (failures never count against one)", async () => {
    const strict = new JwtProvider(provider({ clockSkewMs: 0, keys: { jwks: { keys: [rsa.publicJwk] } } }), {
      now,
    });
    expect(await strict.verify(await sign(rsa, baseClaims({ exp: nowSeconds() - 1 })))).toEqual({
      ok: false,
      reason: "expired",
    });
    expect(await strict.verify(await sign(rsa, baseClaims({ nbf: nowSeconds() + 1 })))).toMatchObject({
      reason: "notYetValid",
    });
  });

  it("a missing required claim", async () => {
    const p = new JwtProvider(
      provider({ requiredClaims: ["org"], keys: { jwks: { keys: [rsa.publicJwk] } } }),
      { now },
    );
    expect(await p.verify(await sign(rsa))).toMatchObject({ ok: false, reason: "missingClaim" });
    expect(await p.verify(await sign(rsa, baseClaims({ org: "acme" })))).toMatchObject({ ok: true });
  });

  it("an unknown crit header", async () => {
    const token = await signRawRs256(rsa, { kid: rsa.kid, crit: ["x-custom"], "x-custom": 1 }, baseClaims());
    expect(await jwksProvider.verify(token)).toMatchObject({ ok: false, reason: "malformed" });
    // The same header without crit verifies: the refusal is about crit alone.
    const plain = await signRawRs256(rsa, { kid: rsa.kid, "x-custom": 1 }, baseClaims());
    expect(await jwksProvider.verify(plain)).toMatchObject({ ok: true });
  });

  it("a missing kid when the set has several keys", async () => {
    expect(await jwksProvider.verify(await sign(rsa, baseClaims(), { kid: undefined }))).toMatchObject({
      ok: false,
      reason: "ambiguousKey",
    });
  });

  it("embedded jwk / jku / x5u headers are never used to find the key", async () => {
    const attacker = await makeKey("attacker");
    for (const extra of [
      { jwk: attacker.publicJwk, kid: undefined },
      { jwk: attacker.publicJwk },
      { jku: "https://evil.test/jwks.json", kid: "attacker" },
      { x5u: "https://evil.test/cert.pem", kid: "attacker" },
    ]) {
      const outcome = await jwksProvider.verify(await sign(attacker, baseClaims(), extra));
      expect(outcome.ok).toBe(false);
    }
  });

  it("an unknown kid with inline keys", async () => {
    const other = await makeKey("other");
    expect(await jwksProvider.verify(await sign(other))).toMatchObject({ ok: false, reason: "unknownKey" });
  });

  it("garbage", async () => {
    for (const t of ["", "a.b.c", "....", "eyJ.eyJ.", rawToken({ alg: "RS256" }, {}, "x")]) {
      expect((await jwksProvider.verify(t)).ok).toBe(false);
    }
  });

  it("a symmetric key smuggled into a JWKS is not used", async () => {
    const oct = { kty: "oct", k: Buffer.from(secret).toString("base64url"), kid: "oct", alg: "HS256" };
    const p = new JwtProvider(provider({ keys: { jwks: { keys: [oct] } } }), { now });
    expect(await p.verify(await signHmac(secret, baseClaims()))).toMatchObject({
      ok: false,
      reason: "algorithm",
    });
  });

  it("issuer check uses the configured issuer exactly", async () => {
    expect(
      await jwksProvider.verify(await sign(rsa, baseClaims({ iss: ISSUER.slice(0, -1) }))),
    ).toMatchObject({
      reason: "issuer",
    });
  });
});

describe("verified-token cache", () => {
  it("answers a repeated token from the cache, yet refuses it once it expires", async () => {
    let t = NOW_MS;
    const p = new JwtProvider(provider({ keys: { jwks: { keys: [rsa.publicJwk] } }, clockSkewMs: 0 }), {
      now: () => t,
    });
    const token = await sign(rsa, baseClaims({ exp: nowSeconds() + 60 }));
    const first = await p.verify(token);
    const again = await p.verify(token);
    // A fresh check parses a new payload; the cache hands back the one it verified.
    expect(first.ok && again.ok && again.claims === first.claims).toBe(true);
    t = NOW_MS + 61_000;
    expect(await p.verify(token)).toEqual({ ok: false, reason: "expired" });
  });

  it("never caches a refused token, nor lets a token with another signature hit", async () => {
    const p = new JwtProvider(provider({ keys: { jwks: { keys: [rsa.publicJwk] } } }), { now });
    const good = await sign(rsa, baseClaims());
    expect((await p.verify(good)).ok).toBe(true);
    const [h, b] = good.split(".");
    const forged = `${h}.${b}.${Buffer.from("x".repeat(256)).toString("base64url")}`;
    expect(await p.verify(forged)).toMatchObject({ ok: false, reason: "signature" });
    expect(await p.verify(forged)).toMatchObject({ ok: false, reason: "signature" });
  });
});
