// ApiKeys → keyed hashes. The key is read from its Secret and only
// HMAC-SHA256(hashKey, key) enters the snapshot: a leaked snapshot does not leak keys,
// and without the installation's hash key the digests cannot even be brute-forced.
import ipaddr from "ipaddr.js";
import type { ApiKeySpec } from "../api/api-key.ts";
import type { KubeObject } from "../api/common.ts";
import { apiKeyDigest, hashKeyId } from "../api/snapshot/api-key-hash.ts";
import type { SnapshotApiKey } from "../api/snapshot/schema.ts";
import type { LastGood } from "./last-good.ts";
import { type ObjectIndex, olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import { secretValue } from "./secrets.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";

function normalCidr(cidr: string): string {
  const [address, bits] = ipaddr.parseCIDR(cidr);
  return `${address.toString()}/${bits}`;
}

/** `disabled` in a spec that failed its schema: anything but false reads as "disable it". */
function asksToDisable(spec: unknown): boolean {
  const disabled = (spec as { disabled?: unknown } | undefined)?.disabled;
  return disabled !== undefined && disabled !== false;
}

export function compileApiKeys(
  index: ObjectIndex,
  status: StatusBook,
  hashKey: string,
  lastGood: LastGood,
): SnapshotApiKey[] {
  const byDigest = new Map<string, { entry: SnapshotApiKey; obj: KubeObject }>();
  // An invalid edit keeps the key's last good version — unless the edit tries to disable
  // it: an owner reaching for `disabled` must never find the key still working.
  const keepLastGood = (obj: KubeObject) => {
    const kept = lastGood.apiKey(obj, hashKeyId(hashKey));
    if (!kept || asksToDisable(obj.spec) || byDigest.has(kept.digest)) return;
    byDigest.set(kept.digest, { entry: kept, obj });
    status.servingLastGood(obj, lastGood.generation(obj));
  };
  // Oldest first: when two ApiKeys hold the same key material, the older one keeps it.
  for (const obj of index.list<ApiKeySpec>("ApiKey").sort(olderFirst)) {
    const spec = obj.spec as ApiKeySpec;
    const namespace = namespaceOf(obj);
    const badCidr = (spec.allowedCIDRs ?? []).findIndex((c) => !ipaddr.isValidCIDR(c));
    if (badCidr >= 0) {
      status.invalid(
        obj,
        `spec.allowedCIDRs[${badCidr}]: "${spec.allowedCIDRs?.[badCidr]}" is not a CIDR range`,
      );
      keepLastGood(obj);
      continue;
    }
    const value = secretValue(index, namespace, spec.secretRef);
    if ("missing" in value) {
      status.set(obj, "Accepted", false, Reason.SecretNotFound, `spec.secretRef: ${value.missing}`);
      status.set(obj, "ResolvedRefs", false, Reason.SecretNotFound, `spec.secretRef: ${value.missing}`);
      continue;
    }
    // Secrets made with `echo` carry a trailing newline; API keys never contain whitespace.
    const key = value.bytes.toString("utf8").trim();
    if (key.length < 16) {
      const message = `spec.secretRef: the key in Secret "${spec.secretRef.name}" is ${key.length} characters; at least 16 are required`;
      status.set(obj, "Accepted", false, Reason.InvalidSecret, message);
      status.set(obj, "ResolvedRefs", false, Reason.InvalidSecret, message);
      continue;
    }
    status.set(obj, "ResolvedRefs", true, Reason.ResolvedRefs, `Secret "${spec.secretRef.name}" read.`);
    const digest = apiKeyDigest(hashKey, key);
    const holder = byDigest.get(digest);
    if (holder) {
      status.set(
        obj,
        "Accepted",
        false,
        Reason.Conflicted,
        `spec.secretRef: holds the same key as ApiKey ${namespaceOf(holder.obj)}/${holder.obj.metadata.name}, which is older; use a distinct key`,
      );
      continue;
    }
    status.set(obj, "Accepted", true, Reason.Accepted, "The key is valid.");
    status.served(obj);
    if (spec.disabled) {
      status.set(
        obj,
        "Active",
        false,
        Reason.Disabled,
        "spec.disabled is true; the gateway refuses this key.",
      );
      continue;
    }
    status.set(obj, "Active", true, Reason.Active, "The key is usable (until spec.expiresAt, when set).");
    byDigest.set(digest, {
      obj,
      entry: {
        digest,
        id: `${namespace}/${obj.metadata.name}`,
        namespace,
        consumer: spec.consumer,
        ...(spec.tenant ? { tenant: spec.tenant } : {}),
        scopes: [...(spec.scopes ?? [])].sort(),
        allowedCIDRs: (spec.allowedCIDRs ?? []).map(normalCidr).sort(),
        ...(spec.expiresAt ? { expiresAt: new Date(spec.expiresAt).toISOString() } : {}),
      },
    });
  }
  for (const obj of index.rejected("ApiKey")) keepLastGood(obj);
  return [...byDigest.values()].map((v) => v.entry).sort((a, b) => (a.digest < b.digest ? -1 : 1));
}
