// API keys by digest. The presented key is hashed with the installation's HMAC key and
// looked up by its digest: nothing compares the key itself, so response timing says
// nothing about it, and the key is never stored, logged or echoed — only the ApiKey's id
// travels further. Unknown, expired, other-namespace and wrong-address keys all fail
// the same way to the client; the reason is for logs and metrics.

import { apiKeyDigest } from "../../../core/api/snapshot/api-key-hash.ts";
import type { SnapshotApiKey } from "../../../core/api/snapshot/schema.ts";
import { BoundedCache } from "../bounded-cache.ts";
import { CidrSet } from "./cidr.ts";

export type ApiKeyFailureReason = "unknown" | "expired" | "wrongNamespace" | "addressNotAllowed";

export interface ApiKeyRecord {
  id: string;
  namespace: string;
  consumer: string;
  tenant: string | undefined;
  scopes: readonly string[];
  allowedCIDRs: CidrSet | undefined;
  expiresAtMs: number | undefined;
}

export type ApiKeyOutcome =
  | { ok: true; key: ApiKeyRecord }
  /** No consumer: a refused key is counted by its own digest, never against its consumer. */
  | { ok: false; reason: ApiKeyFailureReason };

export class ApiKeyStore {
  readonly #hashKey: string;
  readonly #byDigest = new Map<string, ApiKeyRecord>();
  /**
   * Presented keys that matched, with their record: an HMAC per request cost more than the
   * rest of the key check. Only keys that exist get in, so guessing cannot fill it (and a
   * faster answer for a real key tells nothing to someone who does not already hold it);
   * it belongs to this snapshot's store, so a removed or rotated key is gone at the reload.
   */
  readonly #known = new BoundedCache<ApiKeyRecord>(10_000);

  constructor(hashKey: string, keys: readonly SnapshotApiKey[]) {
    this.#hashKey = hashKey;
    for (const k of keys) {
      const expiresAtMs = k.expiresAt === undefined ? undefined : Date.parse(k.expiresAt);
      this.#byDigest.set(k.digest, {
        id: k.id,
        namespace: k.namespace,
        consumer: k.consumer,
        tenant: k.tenant,
        scopes: [...k.scopes],
        allowedCIDRs: k.allowedCIDRs.length > 0 ? new CidrSet(k.allowedCIDRs) : undefined,
        // An unparsable date counts as already expired, never as "no expiry".
        expiresAtMs: expiresAtMs === undefined ? undefined : Number.isNaN(expiresAtMs) ? 0 : expiresAtMs,
      });
    }
  }

  /** Checks `presented` for a policy in `namespace`, from `client`, at `nowMs`. */
  check(presented: string, namespace: string, client: string, nowMs: number): ApiKeyOutcome {
    const key = this.#known.peek(presented) ?? this.#lookUp(presented);
    if (!key) return { ok: false, reason: "unknown" };
    // Keys of another namespace look unknown: which namespaces hold keys is nobody's business.
    if (key.namespace !== namespace) return { ok: false, reason: "wrongNamespace" };
    if (key.expiresAtMs !== undefined && nowMs >= key.expiresAtMs) return { ok: false, reason: "expired" };
    if (key.allowedCIDRs && !key.allowedCIDRs.contains(client))
      return { ok: false, reason: "addressNotAllowed" };
    return { ok: true, key };
  }

  #lookUp(presented: string): ApiKeyRecord | undefined {
    const key = this.#byDigest.get(apiKeyDigest(this.#hashKey, presented));
    if (key) this.#known.set(presented, key);
    return key;
  }
}
