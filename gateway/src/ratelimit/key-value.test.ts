import { describe, expect, it } from "vitest";
import { checksForRequest } from "./checks-for-request.ts";
import { claimKey, clientIpKey, GLOBAL_KEY, headerKey, keyValue } from "./key-value.ts";
import { hashKeyValue, ruleKeys } from "./store-keys.ts";
import type { RateLimitRule } from "./types.ts";

describe("clientIpKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["[2001:db8:1:3::1]", "2001:db8:1:3::/64"],
    ["2001:0DB8:0001:0002::1", "2001:db8:1:2::/64"],
    ["::1", "::/64"],
    ["not-an-ip", undefined],
    ["", undefined],
    ["1.2.3.4:5678", undefined],
  ])("%s → %s", (input, expected) => {
    expect(clientIpKey(input)).toBe(expected);
  });

  it("groups a whole /64 under one key and separates neighbouring /64s", () => {
    expect(clientIpKey("2001:db8::1")).toBe(clientIpKey("2001:db8::ffff:1"));
    expect(clientIpKey("2001:db8:0:1::1")).not.toBe(clientIpKey("2001:db8::1"));
  });
});

describe("headerKey and claimKey", () => {
  it("joins repeated header lines and treats empty as missing", () => {
    expect(headerKey({ "x-tenant": ["a", "b"] }, "X-Tenant")).toBe("a, b");
    expect(headerKey({ "x-tenant": "" }, "x-tenant")).toBeUndefined();
    expect(headerKey({}, "x-tenant")).toBeUndefined();
  });

  it("walks dotted claim paths, preferring a literal dotted claim name", () => {
    const claims = {
      org: { id: "acme", n: 7, admin: true, teams: ["a"] },
      "https://x.io/org.id": "lit",
      sub: "u1",
    };
    expect(claimKey(claims, "sub")).toBe("u1");
    expect(claimKey(claims, "org.id")).toBe("acme");
    expect(claimKey(claims, "org.n")).toBe("7");
    expect(claimKey(claims, "org.admin")).toBe("true");
    expect(claimKey(claims, "org.teams")).toBe('["a"]');
    expect(claimKey(claims, "https://x.io/org.id")).toBe("lit");
    expect(claimKey(claims, "org.missing")).toBeUndefined();
    expect(claimKey(claims, "sub.length")).toBeUndefined();
    expect(claimKey(claims, "__proto__")).toBeUndefined();
    expect(claimKey(undefined, "sub")).toBeUndefined();
  });
});

describe("keyValue and checksForRequest", () => {
  const src = {
    clientIp: "2001:db8::7",
    apiKeyId: "key-1",
    consumer: "mobile",
    tenant: "org-1",
    claims: { org: "acme" },
    headers: { "x-user": "u9" },
  };
  it.each([
    [{ type: "ClientIP" }, "2001:db8::/64"],
    [{ type: "ApiKey" }, "key-1"],
    [{ type: "Consumer" }, "mobile"],
    [{ type: "Tenant" }, "org-1"],
    [{ type: "JWTClaim", claim: "org" }, "acme"],
    [{ type: "Header", header: "x-user" }, "u9"],
    [{ type: "Global" }, GLOBAL_KEY],
  ])("%o → %s", (key, expected) => {
    expect(keyValue(key, src)).toBe(expected);
  });

  it("a request without the source gets undefined (the missing bucket), never an exception", () => {
    const bare = { clientIp: "garbage", headers: {} };
    for (const type of ["ClientIP", "ApiKey", "Consumer", "Tenant", "JWTClaim", "Header", "Bogus"]) {
      expect(keyValue({ type, claim: "org", header: "x-user" }, bare)).toBeUndefined();
    }
    expect(keyValue({ type: "Global" }, bare)).toBe(GLOBAL_KEY);
  });

  it("builds one check per rule of each distinct policy", () => {
    const r = (name: string): RateLimitRule => ({
      name,
      key: { type: "Consumer" },
      algorithm: "FixedWindow",
      requests: 1,
      periodMs: 1000,
      overrides: [],
    });
    const p = {
      id: "ns/p",
      failureMode: "Open" as const,
      responseHeaders: "Draft" as const,
      rules: [r("a"), r("b")],
    };
    const checks = checksForRequest([p, p], src);
    expect(checks.map((c) => [c.policyId, c.rule.name, c.key])).toEqual([
      ["ns/p", "a", "mobile"],
      ["ns/p", "b", "mobile"],
    ]);
  });
});

describe("store keys", () => {
  const r: RateLimitRule = {
    name: "per-ip",
    key: { type: "ClientIP" },
    algorithm: "TokenBucket",
    requests: 1,
    periodMs: 1000,
    overrides: [],
  };

  it("hash-tags policy, rule and hashed key; never stores the raw value", () => {
    const secret = "x".repeat(10_000);
    const k = ruleKeys({ policyId: "ns/p", rule: r, key: secret });
    expect(k.state).toBe(`sluice:rl:{ns/p:per-ip:${hashKeyValue(secret)}}:tb`);
    expect(k.block).toBe(`sluice:rl:{ns/p:per-ip:${hashKeyValue(secret)}}:block`);
    expect(k.state.length).toBeLessThan(80);
    expect(k.state).not.toContain("xxxx");
  });

  it("the missing bucket has its own tag; braces cannot break the tag", () => {
    expect(ruleKeys({ policyId: "ns/p", rule: r, key: undefined }).state).toBe(
      "sluice:rl:{ns/p:per-ip:-missing}:tb",
    );
    expect(ruleKeys({ policyId: "ns/{p}", rule: r, key: undefined }).state).toContain("{ns/_p_:");
  });
});
