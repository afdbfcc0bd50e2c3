// Keys and tokens for the auth tests (unit and integration): real keys made with jose,
// and hand-built tokens for what jose refuses to sign (alg "none", tampering).
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import type { SnapshotJwtProvider } from "../gateway/src/auth/jwt-provider.ts";

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

export async function makeKey(kid: string, alg = "RS256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

export const ISSUER = "https://idp.test/";
export const AUDIENCE = "api";
export const NOW_MS = Date.parse("2030-01-01T12:00:00Z");
export const nowSeconds = () => Math.floor(NOW_MS / 1000);

export function baseClaims(extra: JWTPayload = {}): JWTPayload {
  const t = nowSeconds();
  return { iss: ISSUER, aud: AUDIENCE, sub: "user-1", iat: t - 60, exp: t + 600, ...extra };
}

export async function sign(
  key: TestKey,
  claims: JWTPayload = baseClaims(),
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

export async function signHmac(secret: Uint8Array, claims: JWTPayload = baseClaims(), alg = "HS256") {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(secret);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A token with any header and payload and the given signature (default none). */
export function rawToken(header: Record<string, unknown>, claims: JWTPayload, signature = ""): string {
  return `${b64url(header)}.${b64url(claims)}.${signature}`;
}

export function provider(overrides: Partial<SnapshotJwtProvider> = {}): SnapshotJwtProvider {
  return {
    name: "idp",
    issuer: ISSUER,
    audiences: [AUDIENCE],
    algorithms: ["ES256", "EdDSA", "PS256", "RS256"],
    keys: { jwks: { keys: [] } },
    clockSkewMs: 30_000,
    requiredClaims: [],
    rolesClaim: "roles",
    from: [{ header: "authorization" }],
    claimToHeaders: [],
    ...overrides,
  };
}

/** An RS256 token with any protected header (jose refuses to sign some, e.g. unknown crit). */
export async function signRawRs256(key: TestKey, header: Record<string, unknown>, claims: JWTPayload) {
  const input = `${b64url({ alg: "RS256", ...header })}.${b64url(claims)}`;
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(sig).toString("base64url")}`;
}
