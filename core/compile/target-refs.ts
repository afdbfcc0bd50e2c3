// The targetRefs of policies read defensively: a policy that failed its schema still
// says what it was meant to protect, and fail closed needs to know.
import type { KubeObject, PolicyTargetReference } from "../api/common.ts";
import type { ObjectIndex } from "./object-index.ts";
import { namespaceOf } from "./status-book.ts";

/**
 * The targetRefs of a policy that may have failed its schema; undefined when they cannot
 * be read. Every ref counts as a GatewayRoute ref, whatever its kind says: a misspelled
 * kind must not hide which route the owner meant to protect.
 */
export function readTargetRefs(spec: unknown): PolicyTargetReference[] | undefined {
  const refs = (spec as { targetRefs?: unknown } | undefined)?.targetRefs;
  if (!Array.isArray(refs)) return undefined;
  const out: PolicyTargetReference[] = [];
  for (const ref of refs) {
    if (typeof ref !== "object" || ref === null) return undefined;
    const { kind, name, sectionName } = ref as Record<string, unknown>;
    if (typeof name !== "string" || (kind !== undefined && typeof kind !== "string")) return undefined;
    out.push({
      kind: "GatewayRoute",
      name,
      ...(typeof sectionName === "string" ? { sectionName } : {}),
    } as PolicyTargetReference);
  }
  return out;
}

/** Ids of every policy (valid or not) whose targetRefs name the route. */
export function policiesNaming(index: ObjectIndex, route: KubeObject): string[] {
  const namespace = namespaceOf(route);
  const ids: string[] = [];
  for (const kind of ["AuthzPolicy", "RateLimitPolicy"]) {
    for (const policy of [...index.list(kind), ...index.rejected(kind)]) {
      if (namespaceOf(policy) !== namespace) continue;
      if (readTargetRefs(policy.spec)?.some((r) => r.name === route.metadata.name))
        ids.push(`${namespace}/${policy.metadata.name}`);
    }
  }
  return [...new Set(ids)].sort();
}
