// API keys travel as HMAC-SHA256 digests under the installation's hash key; the operator
// hashes the keys from their Secrets, a gateway hashes the key a client presents. Both
// must use the same hash key: the snapshot carries its id so a gateway can tell.
import { createHash, createHmac } from "node:crypto";

export function apiKeyDigest(hashKey: string, key: string): string {
  return createHmac("sha256", hashKey).update(key, "utf8").digest("hex");
}

/** First 16 hex digits of SHA-256 of the hash key: names it without revealing it. */
export function hashKeyId(hashKey: string): string {
  return createHash("sha256").update(hashKey, "utf8").digest("hex").slice(0, 16);
}
