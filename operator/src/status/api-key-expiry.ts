// ApiKey expiry is a matter of the clock, which compile (pure) does not read: after each
// compile the operator turns Active=True into Active=False/Expired for keys whose
// spec.expiresAt has passed, and wakes itself at the next expiry. The gateway refuses an
// expired key on its own clock either way; this is what `kubectl get apikey` shows.
import type { ObjectStatus } from "../../../core/compile/status-book.ts";

export const EXPIRED = "Expired";

interface WithExpiry {
  kind?: string;
  metadata?: { namespace?: string; name?: string };
  spec?: { expiresAt?: string };
}

/** Marks expired keys in `statuses` (in place); returns when the next one expires, if any. */
export function markExpiredApiKeys(
  statuses: ObjectStatus[],
  objects: readonly WithExpiry[],
  now: number,
): number | undefined {
  const expiry = new Map<string, number>();
  for (const o of objects) {
    if (o.kind !== "ApiKey" || !o.spec?.expiresAt) continue;
    const at = Date.parse(o.spec.expiresAt);
    if (Number.isFinite(at)) expiry.set(`${o.metadata?.namespace}/${o.metadata?.name}`, at);
  }
  let next: number | undefined;
  for (const s of statuses) {
    if (s.kind !== "ApiKey") continue;
    const at = expiry.get(`${s.namespace}/${s.name}`);
    if (at === undefined) continue;
    const active = s.conditions.find((c) => c.type === "Active");
    // Disabled, or not accepted: that reason stands.
    if (active?.status !== "True") continue;
    if (at <= now) {
      Object.assign(active, {
        status: "False",
        reason: EXPIRED,
        message: `spec.expiresAt ${new Date(at).toISOString()} has passed; the gateway refuses this key.`,
      });
    } else if (next === undefined || at < next) next = at;
  }
  return next;
}
