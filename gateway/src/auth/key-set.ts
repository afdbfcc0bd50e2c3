// A set of public keys that verifies token signatures, built from a JWKS document.
// Symmetric ("oct") keys are dropped: a JWKS provider accepts asymmetric algorithms only,
// so a shared secret published next to public keys could only ever serve an attack.
import {
  type CryptoKey,
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
} from "jose";
import { JwtAmbiguousKeyError } from "../../../core/api/errors.ts";

export interface KeySet {
  /** How many signing keys the set holds. */
  readonly size: number;
  /** The key for a token's protected header; jose errors (no matching key…) pass through. */
  select(header: JWSHeaderParameters): Promise<CryptoKey>;
}

function isSigningKey(key: unknown): key is JWK {
  if (typeof key !== "object" || key === null || Array.isArray(key)) return false;
  const k = key as JWK;
  if (typeof k.kty !== "string" || k.kty === "oct") return false;
  return k.use === undefined || k.use === "sig";
}

/** Throws when the document is not a JWKS (an object with a "keys" array). */
export function keySetFrom(doc: unknown): KeySet {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== "object" || doc === null || !Array.isArray(keys)) {
    throw new TypeError('not a JWKS document (an object with a "keys" array)');
  }
  const usable: JWK[] = keys.filter(isSigningKey);
  const local = createLocalJWKSet({ keys: usable } as JSONWebKeySet);
  return {
    size: usable.length,
    async select(header) {
      // With several keys and no kid, jose would try each in turn. Refuse instead: a
      // token that does not say which key signed it is not one our IdPs issue.
      if (header.kid === undefined && usable.length > 1)
        throw new JwtAmbiguousKeyError("no kid, several keys");
      return (await local(header)) as CryptoKey;
    },
  };
}
