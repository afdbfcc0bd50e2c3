// Turns the policies that apply to a route rule into the checks of one request. The data
// plane resolves `rateLimitPolicies` ids to policies once per snapshot and calls this per
// request after authentication and authorization.

import type { SnapshotRateLimitPolicy } from "../../../core/api/snapshot/schema.ts";
import { type KeySources, keyValue } from "./key-value.ts";
import type { LimitCheck } from "./types.ts";

export function checksForRequest(
  policies: readonly SnapshotRateLimitPolicy[],
  sources: KeySources,
): LimitCheck[] {
  const checks: LimitCheck[] = [];
  const seen = new Set<string>();
  for (const policy of policies) {
    // The same (policy, rule) twice in one script call would read one state twice and
    // write it once: count it once instead.
    if (seen.has(policy.id)) continue;
    seen.add(policy.id);
    for (const rule of policy.rules)
      checks.push({ policyId: policy.id, rule, key: keyValue(rule.key, sources) });
  }
  return checks;
}
