// The kinds of sluice.dev/v1alpha1, in the order docs and CRDs list them.
import { apiKey } from "./api-key.ts";
import { authzPolicy } from "./authz-policy.ts";
import { backendPool } from "./backend-pool.ts";
import type { KindDefinition } from "./common.ts";
import { gatewayRoute } from "./gateway-route.ts";
import { hostnameOwnership } from "./hostname-ownership.ts";
import { rateLimitPolicy } from "./rate-limit-policy.ts";

export const KINDS = [
  gatewayRoute,
  backendPool,
  rateLimitPolicy,
  apiKey,
  authzPolicy,
  hostnameOwnership,
] as const;

export type SluiceKind = (typeof KINDS)[number]["kind"];

export function kindDefinition(kind: string): KindDefinition | undefined {
  return KINDS.find((k) => k.kind === kind);
}
