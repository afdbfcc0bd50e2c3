import type { IncomingHttpHeaders } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { apiKeyDigest, hashKeyId } from "../../../core/api/snapshot/api-key-hash.ts";
import type { SnapshotApiKey, SnapshotAuthzPolicy } from "../../../core/api/snapshot/schema.ts";
import {
  baseClaims,
  makeKey,
  NOW_MS,
  provider,
  sign,
  type TestKey,
} from "../../../test-support/test-tokens.ts";
import type { AuthFailure, AuthRequest } from "./auth-policy.ts";
import { problemBody } from "./auth-responses.ts";
import { buildAuthRuntime } from "./auth-runtime.ts";
import { credentialDigest } from "./credentials.ts";

const HASH_KEY = "installation-hash-key";
const KEY_A1 = "key-a1-0123456789abcdef";
const KEY_A2 = "key-a2-0123456789abcdef";
const KEY_EXPIRED = "key-expired-0123456789";
const KEY_OFFICE = "key-office-0123456789ab";
const KEY_OTHER_NS = "key-other-ns-0123456789";

const apiKey = (key: string, over: Partial<SnapshotApiKey>): SnapshotApiKey => ({
  digest: apiKeyDigest(HASH_KEY, key),
  id: "shop/k",
  namespace: "shop",
  consumer: "acme",
  scopes: [],
  allowedCIDRs: [],
  ...over,
});

const KEYS: SnapshotApiKey[] = [
  apiKey(KEY_A1, { id: "shop/acme-1", tenant: "t1", scopes: ["orders:read"] }),
  apiKey(KEY_A2, { id: "shop/acme-2", tenant: "t1", scopes: ["orders:read"] }),
  apiKey(KEY_EXPIRED, { id: "shop/old", expiresAt: "2029-12-31T00:00:00.000Z" }),
  apiKey(KEY_OFFICE, { id: "shop/office", consumer: "office", allowedCIDRs: ["192.168.1.0/24"] }),
  apiKey(KEY_OTHER_NS, { id: "other/k", namespace: "other" }),
];

let rsa: TestKey;
beforeAll(async () => {
  rsa = await makeKey("rsa-1");
});

function runtime(policies: SnapshotAuthzPolicy[], failures: AuthFailure[] = []) {
  return buildAuthRuntime(
    { authzPolicies: policies, apiKeys: { hashKeyId: hashKeyId(HASH_KEY), keys: KEYS } },
    { hashKey: HASH_KEY, now: () => NOW_MS, onFailure: (f) => failures.push(f) },
  );
}

const jwtPolicy = (over: Partial<SnapshotAuthzPolicy> = {}): SnapshotAuthzPolicy => ({
  id: "shop/p",
  authentication: {
    require: "Any",
    jwt: [
      provider({
        keys: { jwks: { keys: [rsa.publicJwk] } },
        rolesClaim: "realm_access.roles",
        claimToHeaders: [
          { claim: "sub", header: "X-User-Id" },
          { claim: "org", header: "x-org" },
        ],
      }),
    ],
  },
  rules: [],
  defaultAction: "Allow",
  ...over,
});

const keyPolicy = (over: Partial<SnapshotAuthzPolicy> = {}): SnapshotAuthzPolicy => ({
  id: "shop/keys",
  authentication: { require: "Any", apiKey: { from: [{ header: "x-api-key" }, { query: "api_key" }] } },
  rules: [],
  defaultAction: "Allow",
  ...over,
});

const req = (headers: IncomingHttpHeaders = {}, over: Partial<AuthRequest> = {}): AuthRequest => ({
  method: "GET",
  path: "/orders",
  query: "",
  headers,
  client: "10.0.0.1",
  ...over,
});

describe("JWT authentication", () => {
  it("401 with a bare Bearer challenge when no token is sent", async () => {
    const d = await runtime([jwtPolicy()]).policy("shop/p")?.check(req());
    expect(d).toMatchObject({
      allowed: false,
      status: 401,
      reason: "missing",
      headers: { "www-authenticate": "Bearer" },
    });
  });

  it('401 with error="invalid_token" for a bad token, the same body for every cause', async () => {
    const p = runtime([jwtPolicy()]).policy("shop/p");
    const tokens = [
      "garbage",
      await sign(rsa, baseClaims({ exp: 1 })),
      await sign(rsa, baseClaims({ iss: "https://other/" })),
      `${(await sign(rsa)).slice(0, -4)}AAAA`,
    ];
    const bodies = new Set<string>();
    for (const t of tokens) {
      const d = await p?.check(req({ authorization: `Bearer ${t}` }));
      expect(d).toMatchObject({
        allowed: false,
        status: 401,
        headers: { "www-authenticate": 'Bearer error="invalid_token"' },
      });
      if (d && !d.allowed) bodies.add(problemBody(d.problem));
    }
    expect(bodies.size).toBe(1);
  });

  it("a token accepted before is refused by the same policy once it expires; another issuer's never matches", async () => {
    const clock = { now: NOW_MS };
    const p = buildAuthRuntime(
      { authzPolicies: [jwtPolicy()], apiKeys: { hashKeyId: hashKeyId(HASH_KEY), keys: [] } },
      { hashKey: HASH_KEY, now: () => clock.now },
    ).policy("shop/p");
    const token = await sign(rsa, baseClaims({ exp: Math.floor(NOW_MS / 1000) + 60 }));
    const check = (t: string) => p?.check(req({ authorization: `Bearer ${t}` }));
    expect((await check(token))?.allowed).toBe(true);
    expect((await check(token))?.allowed).toBe(true);
    expect((await check(await sign(rsa, baseClaims({ iss: "https://other/" }))))?.allowed).toBe(false);
    clock.now += 61_000 + 60_000; // past exp and the default skew
    expect(await check(token)).toMatchObject({ allowed: false, reason: "jwt:expired" });
  });

  it("a refused token is counted by its digest, never by its subject", async () => {
    const failures: AuthFailure[] = [];
    const p = runtime([jwtPolicy()], failures).policy("shop/p");
    const expired = await sign(rsa, baseClaims({ exp: 1 }));
    await p?.check(req({ authorization: `Bearer ${expired}` }));
    expect(failures).toEqual([
      {
        policy: "shop/p",
        client: "10.0.0.1",
        method: "jwt",
        reason: "expired",
        credential: credentialDigest(expired),
      },
    ]);
    expect(p?.presentedDigests({ headers: { authorization: `Bearer ${expired}` }, query: "" })).toEqual([
      credentialDigest(expired),
    ]);
  });

  it("a good token gives an identity (roles from a nested claim, scopes from scope and scp) and claim headers", async () => {
    const token = await sign(
      rsa,
      baseClaims({ realm_access: { roles: ["admin"] }, scope: "read write", scp: ["extra"], org: "acme" }),
    );
    const d = await runtime([jwtPolicy()])
      .policy("shop/p")
      ?.check(req({ authorization: `bearer  ${token}` }));
    expect(d).toMatchObject({
      allowed: true,
      identity: { methods: ["jwt"], subject: "user-1", roles: ["admin"], scopes: ["read", "write", "extra"] },
      upstreamHeaders: { "x-user-id": "user-1", "x-org": "acme" },
    });
  });

  it("claim values that could split a header are not passed", async () => {
    const token = await sign(rsa, baseClaims({ org: "a\r\nx-admin: true" }));
    const d = await runtime([jwtPolicy()])
      .policy("shop/p")
      ?.check(req({ authorization: `Bearer ${token}` }));
    expect(d).toMatchObject({ allowed: true, upstreamHeaders: { "x-user-id": "user-1" } });
    expect(d?.allowed && d.upstreamHeaders["x-org"]).toBeFalsy();
  });

  it("token sources: the first listed place that has a token wins (query, then cookie, then header)", async () => {
    const good = await sign(rsa);
    const p = runtime([
      jwtPolicy({
        authentication: {
          require: "Any",
          jwt: [
            provider({
              keys: { jwks: { keys: [rsa.publicJwk] } },
              from: [{ query: "access_token" }, { cookie: "session" }, { header: "authorization" }],
            }),
          ],
        },
      }),
    ]).policy("shop/p");
    // Only the header: accepted.
    expect((await p?.check(req({ authorization: `Bearer ${good}` })))?.allowed).toBe(true);
    // Cookie garbage beats a good header: refused, not "try the next one".
    expect(
      (await p?.check(req({ authorization: `Bearer ${good}`, cookie: "a=b; session=garbage" })))?.allowed,
    ).toBe(false);
    expect((await p?.check(req({ cookie: `a=b; session=${good}` })))?.allowed).toBe(true);
    // Query beats cookie.
    expect(
      (await p?.check(req({ cookie: `session=${good}` }, { query: "?access_token=bad" })))?.allowed,
    ).toBe(false);
    expect(
      (await p?.check(req({ cookie: "session=bad" }, { query: `?x=1&access_token=${good}` })))?.allowed,
    ).toBe(true);
  });

  it("another Authorization scheme is not a token; an oversized token is refused", async () => {
    const p = runtime([jwtPolicy()]).policy("shop/p");
    expect(await p?.check(req({ authorization: "Basic dXNlcjpwYXNz" }))).toMatchObject({ reason: "missing" });
    expect(await p?.check(req({ authorization: `Bearer ${"a".repeat(20_000)}` }))).toMatchObject({
      reason: "jwt:malformed",
    });
  });

  it("rules see claims, and identity headers sent by the client are hidden from them", async () => {
    const p = runtime([
      jwtPolicy({
        rules: [
          { action: "Allow", when: ["claims.org == 'acme'"] },
          { action: "Allow", when: ["request.headers['x-user-id'] == 'admin'"] },
        ],
        defaultAction: "Deny",
      }),
    ]).policy("shop/p");
    const acme = await sign(rsa, baseClaims({ org: "acme" }));
    const other = await sign(rsa, baseClaims({ org: "other" }));
    expect((await p?.check(req({ authorization: `Bearer ${acme}` })))?.allowed).toBe(true);
    const spoof = await p?.check(req({ authorization: `Bearer ${other}`, "x-user-id": "admin" }));
    expect(spoof).toMatchObject({ allowed: false, status: 403, headers: {} });
  });
});

describe("identity headers (anti-spoofing)", () => {
  it("lists every header any policy may set, lower-cased", () => {
    const rt = runtime([jwtPolicy(), keyPolicy()]);
    expect([...rt.identityHeaders].sort()).toEqual(["x-org", "x-user-id"]);
  });
});

describe("API keys", () => {
  const check = async (
    key: string | undefined,
    over: Partial<AuthRequest> = {},
    failures: AuthFailure[] = [],
  ) =>
    runtime([keyPolicy()], failures)
      .policy("shop/keys")
      ?.check(req(key === undefined ? {} : { "x-api-key": key }, over));

  it("a valid key gives the consumer, tenant, scopes and key id", async () => {
    expect(await check(KEY_A1)).toMatchObject({
      allowed: true,
      identity: {
        methods: ["apiKey"],
        subject: "acme",
        consumer: "acme",
        tenant: "t1",
        scopes: ["orders:read"],
        apiKeyId: "shop/acme-1",
      },
    });
  });

  it("several keys of one consumer are valid at once (rotation)", async () => {
    expect((await check(KEY_A1))?.allowed).toBe(true);
    expect((await check(KEY_A2))?.allowed).toBe(true);
  });

  it("a key from the query when the header is absent", async () => {
    expect((await check(undefined, { query: `?api_key=${KEY_A1}` }))?.allowed).toBe(true);
  });

  it.each([
    ["unknown", "no-such-key-0123456789", {}, "apiKey:unknown"],
    ["expired", KEY_EXPIRED, {}, "apiKey:expired"],
    ["of another namespace", KEY_OTHER_NS, {}, "apiKey:wrongNamespace"],
    ["outside its CIDRs", KEY_OFFICE, { client: "10.0.0.1" }, "apiKey:addressNotAllowed"],
    ["with a garbage client address", KEY_OFFICE, { client: "" }, "apiKey:addressNotAllowed"],
    ["a valid key with a suffix", `${KEY_A1}x`, {}, "apiKey:unknown"],
  ])(
    "refuses a key %s, with an ApiKey challenge and no hint",
    async (_, key, over: Partial<AuthRequest>, reason) => {
      const failures: AuthFailure[] = [];
      const d = await check(key, over, failures);
      expect(d).toMatchObject({
        allowed: false,
        status: 401,
        reason,
        headers: { "www-authenticate": "ApiKey" },
      });
      expect(JSON.stringify(d)).not.toContain(key);
      expect(JSON.stringify(failures)).not.toContain(key);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({
        policy: "shop/keys",
        client: over.client ?? "10.0.0.1",
        method: "apiKey",
      });
    },
  );

  it("a key inside its CIDRs is accepted (also as an IPv4-mapped IPv6 address)", async () => {
    expect((await check(KEY_OFFICE, { client: "192.168.1.20" }))?.allowed).toBe(true);
    expect((await check(KEY_OFFICE, { client: "::ffff:192.168.1.20" }))?.allowed).toBe(true);
  });

  it.each([
    ["expired", KEY_EXPIRED, {}, true],
    ["unknown", "nope-nope-nope-nope", {}, true],
    ["of another namespace", KEY_OTHER_NS, {}, true],
    // Good from its own addresses: only the address is counted.
    ["outside its CIDRs", KEY_OFFICE, { client: "10.0.0.1" }, false],
  ])(
    "a key refused as %s is counted by its digest (or not at all), never by consumer",
    async (_, key, over: Partial<AuthRequest>, counted) => {
      const failures: AuthFailure[] = [];
      await check(key, over, failures);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.credential).toBe(counted ? credentialDigest(key) : undefined);
      expect(Object.keys(failures[0] ?? {}).sort()).toEqual(
        ["client", "method", "policy", "reason", ...(counted ? ["credential"] : [])].sort(),
      );
    },
  );

  it("presentedDigests names the presented key, so a blocked one is refused before it is checked", () => {
    const p = runtime([keyPolicy()]).policy("shop/keys");
    expect(p?.presentedDigests({ headers: { "x-api-key": KEY_EXPIRED }, query: "" })).toEqual([
      credentialDigest(KEY_EXPIRED),
    ]);
    expect(p?.presentedDigests({ headers: {}, query: "" })).toEqual([]);
  });

  it("a key accepted before is still checked for address and expiry on every request", async () => {
    const clock = { now: Date.parse("2029-12-30T23:59:59.000Z") };
    const rt = buildAuthRuntime(
      { authzPolicies: [keyPolicy()], apiKeys: { hashKeyId: hashKeyId(HASH_KEY), keys: KEYS } },
      { hashKey: HASH_KEY, now: () => clock.now },
    );
    const p = rt.policy("shop/keys");
    const office = (client: string) => p?.check(req({ "x-api-key": KEY_OFFICE }, { client }));
    expect((await office("192.168.1.20"))?.allowed).toBe(true);
    expect(await office("10.0.0.1")).toMatchObject({ allowed: false, reason: "apiKey:addressNotAllowed" });
    expect((await p?.check(req({ "x-api-key": KEY_EXPIRED })))?.allowed).toBe(true);
    clock.now += 1000;
    expect(await p?.check(req({ "x-api-key": KEY_EXPIRED }))).toMatchObject({
      allowed: false,
      reason: "apiKey:expired",
    });
  });

  it("a disabled key is left out of the snapshot by compile, so it is unknown", async () => {
    expect(await check("disabled-key-0123456789")).toMatchObject({
      allowed: false,
      reason: "apiKey:unknown",
    });
  });

  it("a missing key counts no failure", async () => {
    const failures: AuthFailure[] = [];
    expect(await check(undefined, {}, failures)).toMatchObject({ reason: "missing" });
    expect(failures).toHaveLength(0);
  });

  it("counts usage per key", async () => {
    const rt = runtime([keyPolicy()]);
    const p = rt.policy("shop/keys");
    await p?.check(req({ "x-api-key": KEY_A1 }));
    await p?.check(req({ "x-api-key": KEY_A1 }));
    await p?.check(req({ "x-api-key": KEY_A2 }));
    await p?.check(req({ "x-api-key": KEY_EXPIRED }));
    expect(rt.usage.read()).toEqual([
      { id: "shop/acme-1", requests: 2, lastUsedMs: NOW_MS },
      { id: "shop/acme-2", requests: 1, lastUsedMs: NOW_MS },
    ]);
    // The next snapshot keeps counting.
    const next = buildAuthRuntime(
      { authzPolicies: [keyPolicy()], apiKeys: { hashKeyId: "", keys: KEYS } },
      { hashKey: HASH_KEY },
      rt,
    );
    expect(next.usage).toBe(rt.usage);
  });

  it("principals on consumers, tenants and scopes", async () => {
    const p = runtime([
      keyPolicy({
        rules: [
          {
            action: "Allow",
            principals: { consumers: ["acme"], tenants: ["t1"], scopes: ["orders:read"] },
            when: [],
          },
        ],
        defaultAction: "Deny",
      }),
    ]).policy("shop/keys");
    expect((await p?.check(req({ "x-api-key": KEY_A1 })))?.allowed).toBe(true);
    expect(await p?.check(req({ "x-api-key": KEY_OFFICE }, { client: "192.168.1.1" }))).toMatchObject({
      allowed: false,
      status: 403,
    });
  });
});

describe("Any and All", () => {
  const both = (require: "Any" | "All") =>
    jwtPolicy({
      authentication: {
        require,
        jwt: [provider({ keys: { jwks: { keys: [rsa.publicJwk] } } })],
        apiKey: { from: [{ header: "x-api-key" }] },
      },
    });

  it("Any: either credential is enough, a bad one fails even next to a good one", async () => {
    const p = runtime([both("Any")]).policy("shop/p");
    const token = await sign(rsa);
    expect((await p?.check(req({ authorization: `Bearer ${token}` })))?.allowed).toBe(true);
    expect((await p?.check(req({ "x-api-key": KEY_A1 })))?.allowed).toBe(true);
    expect(
      await p?.check(req({ authorization: `Bearer ${token}`, "x-api-key": "wrong-key-wrong-key" })),
    ).toMatchObject({
      allowed: false,
      status: 401,
    });
    expect(await p?.check(req())).toMatchObject({ headers: { "www-authenticate": "Bearer, ApiKey" } });
  });

  it("All: both are needed; the identity carries both", async () => {
    const p = runtime([both("All")]).policy("shop/p");
    const token = await sign(rsa, baseClaims({ scope: "profile" }));
    expect((await p?.check(req({ authorization: `Bearer ${token}` })))?.allowed).toBe(false);
    expect((await p?.check(req({ "x-api-key": KEY_A1 })))?.allowed).toBe(false);
    expect(await p?.check(req({ authorization: `Bearer ${token}`, "x-api-key": KEY_A1 }))).toMatchObject({
      allowed: true,
      identity: {
        methods: ["jwt", "apiKey"],
        subject: "user-1",
        consumer: "acme",
        tenant: "t1",
        scopes: ["profile", "orders:read"],
        apiKeyId: "shop/acme-1",
      },
    });
  });
});

describe("policies without authentication", () => {
  it("rules on addresses and paths still apply; roles can never match", async () => {
    const p = runtime([
      {
        id: "shop/ip",
        rules: [
          { action: "Deny", request: { paths: ["/admin/**"] }, when: [] },
          { action: "Allow", principals: { sourceCIDRs: ["10.0.0.0/8"] }, when: [] },
          { action: "Allow", principals: { roles: ["admin"] }, when: [] },
        ],
        defaultAction: "Deny",
      },
    ]).policy("shop/ip");
    expect(await p?.check(req())).toMatchObject({ allowed: true, identity: undefined, upstreamHeaders: {} });
    expect(await p?.check(req({}, { path: "/ADMIN/x" }))).toMatchObject({ allowed: false, status: 403 });
    expect(await p?.check(req({}, { client: "8.8.8.8" }))).toMatchObject({ allowed: false, status: 403 });
  });
});

describe("building", () => {
  it("a policy that cannot be built rejects the snapshot with a stable code", () => {
    expect(() =>
      runtime([
        { id: "shop/bad", rules: [{ action: "Allow", when: ["claim.x == 1"] }], defaultAction: "Deny" },
      ]),
    ).toThrow(/SLUICE_SNAPSHOT_REJECTED: AuthzPolicy shop\/bad/);
  });
});
