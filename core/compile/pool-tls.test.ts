import { describe, expect, it } from "vitest";
import { ObjectIndex } from "./object-index.ts";
import { pemProblem, poolTls } from "./pool-tls.ts";
import { StatusBook } from "./status-book.ts";

// A self-signed EC certificate; only its syntax matters here.
const CA = [
  "-----BEGIN CERTIFICATE-----",
  "MIIBejCCAR+gAwIBAgIUTouS0ecJr+gg999CRRJ4/w56v1UwCgYIKoZIzj0EAwIw",
  "EjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjEyMDcxMDMwMDFaFw0yNjEyMDgxMDMw",
  "MDFaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC",
  "AASaeT1FzYZ+oe5QEuX54Y454/pIsGDOuD+60MzSUBmh36wpViRhGP5v+wPpuXc3",
  "6SNLhz2KYusI+nW+bTex2sLFo1MwUTAdBgNVHQ4EFgQUIreUrr4yRQgfnWy2c5HF",
  "rLR4eIkwHwYDVR0jBBgwFoAUIreUrr4yRQgfnWy2c5HFrLR4eIkwDwYDVR0TAQH/",
  "BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEApiaM3bbasGNT4TR4O3r/nSrZzZAk",
  "uUj6xYwJ6f44C78CIQDbifqPBbrtCx23/CYgZ3kYnXaZrYUQOYRGgOXkiL9aJA==",
  "-----END CERTIFICATE-----",
].join("\n");

const secret = (body: Record<string, unknown>) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "users-ca", namespace: "shop" },
  ...body,
});
const indexOf = (...objects: unknown[]) => new ObjectIndex(objects, new StatusBook());
const tls = { serverName: "users.shop.svc", caCertificateRef: { name: "users-ca", key: "ca.crt" } };

describe("pemProblem", () => {
  it.each([
    ["one certificate", CA, undefined],
    ["a bundle of two", `${CA}\n${CA}\n`, undefined],
    ["text that is not PEM", "ca", "holds no PEM certificate"],
    [
      "a private key",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
      "holds no PEM certificate",
    ],
    [
      "a damaged second certificate",
      `${CA}\n${CA.replace("MIIB", "MIIC")}`,
      "certificate 2 of 2 does not parse",
    ],
  ])("%s", (_, text, problem) => {
    expect(pemProblem(text)).toBe(problem);
  });
});

describe("poolTls", () => {
  it("is empty for a cleartext pool, and carries only the server name without a CA", () => {
    expect(poolTls(indexOf(), "shop", undefined)).toEqual({});
    expect(poolTls(indexOf(), "shop", { serverName: "users.shop.svc" })).toEqual({
      tls: { serverName: "users.shop.svc" },
    });
  });

  it.each([
    ["stringData", { stringData: { "ca.crt": CA } }],
    ["data (base64)", { data: { "ca.crt": Buffer.from(CA).toString("base64") } }],
  ])("reads the CA from the Secret's %s", (_, body) => {
    expect(poolTls(indexOf(secret(body)), "shop", tls)).toEqual({
      tls: { serverName: "users.shop.svc", ca: CA },
    });
  });

  it.each([
    [
      "no Secret",
      [],
      "SecretNotFound",
      'spec.tls.caCertificateRef: Secret "users-ca" not found in namespace "shop"',
    ],
    [
      "a Secret in another namespace",
      [{ ...secret({ stringData: { "ca.crt": CA } }), metadata: { name: "users-ca", namespace: "other" } }],
      "SecretNotFound",
      'spec.tls.caCertificateRef: Secret "users-ca" not found in namespace "shop"',
    ],
    [
      "no such key",
      [secret({ stringData: { "tls.crt": CA } })],
      "SecretNotFound",
      'spec.tls.caCertificateRef: Secret "users-ca" has no key "ca.crt"',
    ],
    [
      "a key that is not a certificate",
      [secret({ stringData: { "ca.crt": "hunter2" } })],
      "InvalidSecret",
      'spec.tls.caCertificateRef: the key "ca.crt" of Secret "users-ca" holds no PEM certificate',
    ],
  ])("names the field when there is %s", (_, objects, problem, message) => {
    expect(poolTls(indexOf(...objects), "shop", tls)).toEqual({ problem, message });
  });
});
