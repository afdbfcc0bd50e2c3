// One identity provider of a policy: checks a token's signature with the provider's keys
// and an algorithm allow-list fixed by the kind of key (so an HS256 token "signed" with
// an RSA public key can never be checked against that key), then iss, aud, exp, nbf, iat
// and the required claims. Why a token failed is kept for logs and metrics only; the
// client always gets the same answer.
import { type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { JWT_ASYMMETRIC_ALGORITHMS, JWT_HMAC_ALGORITHMS } from "../../../core/api/authz-policy.ts";
import { hasCode, SnapshotRejectedError } from "../../../core/api/errors.ts";
import type { SnapshotAuthzPolicy } from "../../../core/api/snapshot/schema.ts";
import { BoundedCache } from "../bounded-cache.ts";
import { type KeySet, keySetFrom } from "./key-set.ts";
import type { RemoteJwks } from "./remote-jwks.ts";

export type SnapshotJwtProvider = NonNullable<
  NonNullable<SnapshotAuthzPolicy["authentication"]>["jwt"]
>[number];

// The API's lists (one source with the CRD's enum): which algorithms go with public keys, which with shared secrets.
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set(JWT_ASYMMETRIC_ALGORITHMS);
export const HMAC_ALGORITHMS: ReadonlySet<string> = new Set(JWT_HMAC_ALGORITHMS);

export type JwtFailureReason =
  | "malformed"
  | "algorithm"
  | "unknownKey"
  | "ambiguousKey"
  | "keysUnavailable"
  | "signature"
  | "expired"
  | "notYetValid"
  | "issuedInFuture"
  | "issuer"
  | "audience"
  | "missingClaim";

export type JwtOutcome =
  | { ok: true; claims: JWTPayload }
  /**
   * No subject, even when the signature was good: a refused token is counted by its own
   * digest (auth/brute-force.ts), never against its subject's other tokens.
   */
  | { ok: false; reason: JwtFailureReason };

/** Turns jose's errors into our reasons; anything unknown is "malformed". */
function failureOf(err: unknown): { reason: JwtFailureReason } {
  if (hasCode(err, "SLUICE_JWKS_UNAVAILABLE")) return { reason: "keysUnavailable" };
  if (hasCode(err, "SLUICE_JWT_AMBIGUOUS_KEY")) return { reason: "ambiguousKey" };
  const e = err as { code?: string; claim?: string; payload?: JWTPayload };
  switch (e.code) {
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return { reason: "algorithm" };
    case "ERR_JWKS_NO_MATCHING_KEY":
      return { reason: "unknownKey" };
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return { reason: "signature" };
    case "ERR_JWT_EXPIRED":
      return { reason: "expired" };
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const byClaim: Record<string, JwtFailureReason> = {
        nbf: "notYetValid",
        iss: "issuer",
        aud: "audience",
        exp: "expired",
      };
      const reason =
        e.claim && Object.hasOwn(byClaim, e.claim) ? (byClaim[e.claim] as JwtFailureReason) : "missingClaim";
      // An exp that is absent is a missing claim, not an expiry.
      return { reason: e.claim === "exp" && e.payload?.exp === undefined ? "missingClaim" : reason };
    }
    default:
      return { reason: "malformed" };
  }
}

/**
 * Verified tokens are remembered (by the whole token, signature included, so nothing else
 * can hit) until they expire, for at most this long after the check: a signature check per
 * request is most of the cost of JWT auth, and clients send the same token many times. The
 * bound keeps a token from outliving the removal of its key from the JWKS by much.
 */
export const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

export interface JwtProviderDeps {
  /** The remote key cache for `keys.jwksUri` (shared across snapshots by URI). */
  remote?: RemoteJwks;
  now: () => number;
}

export class JwtProvider {
  readonly name: string;
  readonly issuer: string;
  readonly config: SnapshotJwtProvider;
  readonly #algorithms: string[];
  readonly #key: Uint8Array | JWTVerifyGetKey;
  readonly #now: () => number;
  /** token → its claims and the window (epoch ms, skew applied) in which it is good; oldest first. */
  readonly #verified = new BoundedCache<{ claims: JWTPayload; from: number; until: number }>(VERIFIED_MAX);

  constructor(config: SnapshotJwtProvider, deps: JwtProviderDeps) {
    this.name = config.name;
    this.issuer = config.issuer;
    this.config = config;
    this.#now = deps.now;
    const keys = config.keys;
    const hmac = "hmacSecret" in keys;
    // Defence in depth: compile already pairs HS* with shared secrets only, but a snapshot
    // is data, and algorithm confusion is the attack this list exists to stop.
    const allowed = hmac ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
    this.#algorithms = config.algorithms.filter((a) => allowed.has(a));
    if (this.#algorithms.length === 0) {
      throw new SnapshotRejectedError(
        `JWT provider ${config.name}: none of [${config.algorithms.join(", ")}] fits its ${hmac ? "shared secret" : "public keys"}`,
      );
    }
    if ("hmacSecret" in keys) {
      this.#key = new Uint8Array(Buffer.from(keys.hmacSecret, "base64"));
    } else if ("jwks" in keys) {
      const set: KeySet = keySetFrom(keys.jwks);
      this.#key = (header) => set.select(header);
    } else {
      const remote = deps.remote;
      if (!remote || remote.uri !== keys.jwksUri) throw new TypeError("remote JWKS cache missing");
      this.#key = (header) => remote.keyFor(header);
    }
  }

  /**
   * The claims of a token this provider verified recently and that is still within its
   * validity now, else undefined: lets a repeat caller skip even decoding the token.
   */
  cached(token: string): JWTPayload | undefined {
    const hit = this.#verified.peek(token);
    if (!hit) return undefined;
    const now = this.#now();
    return now >= hit.from && now < hit.until ? hit.claims : undefined;
  }

  async verify(token: string): Promise<JwtOutcome> {
    const claims = this.cached(token);
    if (claims) return { ok: true, claims };
    // Never seen, or expired (or the check is too old): verify, for the precise reason.
    this.#verified.delete(token);
    const now = this.#now();
    const outcome = await this.#verify(token, now);
    if (outcome.ok) this.#remember(token, outcome.claims, now);
    return outcome;
  }

  #remember(token: string, claims: JWTPayload, now: number) {
    const skew = this.config.clockSkewMs;
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 + skew : now;
    const nbf = typeof claims.nbf === "number" ? claims.nbf * 1000 - skew : now;
    this.#verified.set(token, { claims, from: nbf, until: Math.min(exp, now + VERIFIED_TTL_MS) });
  }

  async #verify(token: string, now: number): Promise<JwtOutcome> {
    const skewSeconds = this.config.clockSkewMs / 1000;
    try {
      const options = {
        issuer: this.issuer,
        algorithms: this.#algorithms,
        clockTolerance: skewSeconds,
        currentDate: new Date(now),
        // A token without exp would be good forever: require it whatever the policy says.
        requiredClaims: [...new Set(["exp", ...this.config.requiredClaims])],
        ...(this.config.audiences.length > 0 ? { audience: this.config.audiences } : {}),
      };
      const { payload } =
        this.#key instanceof Uint8Array
          ? await jwtVerify(token, this.#key, options)
          : await jwtVerify(token, this.#key, options);
      // jose checks iat only together with maxTokenAge; a token issued in the future is
      // from a skewed or forged clock.
      if (typeof payload.iat === "number" && payload.iat > now / 1000 + skewSeconds) {
        return { ok: false, reason: "issuedInFuture" };
      }
      return { ok: true, claims: payload };
    } catch (err) {
      return { ok: false, ...failureOf(err) };
    }
  }
}
