import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  cel,
  conditionColumn,
  HeaderName,
  type KindDefinition,
  PolicyStatusSchema,
  PositiveDuration,
  SectionName,
  StringEnum,
  TargetRefs,
  targetsColumn,
} from "./common.ts";

const LimitKey = Type.Object(
  {
    type: StringEnum(["ClientIP", "ApiKey", "Consumer", "Tenant", "JWTClaim", "Header", "Global"], {
      description:
        "What requests are counted by. ClientIP: the client address (IPv6 grouped by /64). ApiKey: the API key used. Consumer/Tenant: as established by authentication. JWTClaim: a claim of the verified token. Header: a request header. Global: all requests share one counter. A request that lacks the value (no key, no claim, no header) is counted under one shared 'missing' bucket for the rule.",
    }),
    claim: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: "Claim name (dots for nested claims); JWTClaim only.",
      }),
    ),
    header: Type.Optional(HeaderName("Header name; Header only.")),
  },
  {
    description: "What a rule counts requests by.",
    ...cel(
      {
        rule: "self.type == 'JWTClaim' ? has(self.claim) : !has(self.claim)",
        message: "claim must be set exactly when type is JWTClaim",
        fieldPath: ".claim",
      },
      {
        rule: "self.type == 'Header' ? has(self.header) : !has(self.header)",
        message: "header must be set exactly when type is Header",
        fieldPath: ".header",
      },
    ),
  },
);

const Limit = Type.Object(
  {
    requests: Type.Integer({
      minimum: 1,
      maximum: 1_000_000_000,
      description: "Requests allowed per period.",
    }),
    per: PositiveDuration("The period, e.g. 1s, 1m, 1h."),
    burst: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000_000,
        description: "Requests allowed at once above the steady rate (TokenBucket and LeakyBucket only).",
      }),
    ),
  },
  { description: "How many requests, per how long." },
);

const Override = Type.Object(
  {
    match: Type.String({
      minLength: 1,
      maxLength: 256,
      description: "Key value this quota is for, e.g. a tenant id.",
    }),
    requests: Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      description: "Requests per period for that key.",
    }),
    burst: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: "Burst for that key." }),
    ),
  },
  { description: "A different quota for one key value." },
);

const LimitRule = Type.Object(
  {
    name: SectionName("Name of the rule, unique in the policy; shown in RateLimit headers and metrics."),
    key: LimitKey,
    algorithm: StringEnum(["TokenBucket", "SlidingWindow", "FixedWindow", "LeakyBucket"], {
      default: "TokenBucket",
      description:
        "TokenBucket: steady refill with bursts. SlidingWindow: weighted counters of two windows. FixedWindow: counters reset at window edges. LeakyBucket: GCRA, evenly spaced requests.",
    }),
    limit: Limit,
    overrides: Type.Optional(
      Type.Array(Override, {
        maxItems: 256,
        description: "Per-key quotas (for example per tenant) that replace limit for those keys.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["match"],
      }),
    ),
    blockDuration: Type.Optional(
      PositiveDuration("After the limit is exceeded, refuse the key for this long (a penalty box).", {
        absent: "no penalty",
      }),
    ),
  },
  {
    description: "One limit; a request must pass every rule of every policy that applies to it.",
    ...cel({
      rule: "!has(self.limit.burst) || self.algorithm == 'TokenBucket' || self.algorithm == 'LeakyBucket'",
      message: "limit.burst applies to TokenBucket and LeakyBucket only",
      fieldPath: ".limit.burst",
    }),
  },
);

export const RateLimitPolicySpec = Type.Object(
  {
    targetRefs: TargetRefs,
    rules: Type.Array(LimitRule, {
      minItems: 1,
      maxItems: 16,
      description: "Limits; all must pass. The most restrictive one is reported in the RateLimit headers.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    failureMode: StringEnum(["Open", "Closed"], {
      default: "Open",
      description:
        "When the limit store (Redis) cannot answer in time: Open lets requests through (and counts the failure in metrics), Closed refuses them with 503.",
    }),
    responseHeaders: StringEnum(["Draft", "DraftAndLegacy", "None"], {
      default: "Draft",
      description:
        "Draft: RateLimit and RateLimit-Policy headers (draft-ietf-httpapi-ratelimit-headers). DraftAndLegacy: also X-RateLimit-Limit/Remaining/Reset. None: no headers except Retry-After on 429.",
    }),
  },
  { description: "Rate limits for the targeted routes." },
);
export type RateLimitPolicySpec = Static<typeof RateLimitPolicySpec>;

export const rateLimitPolicy: KindDefinition<typeof RateLimitPolicySpec> = {
  kind: "RateLimitPolicy",
  plural: "ratelimitpolicies",
  singular: "ratelimitpolicy",
  shortNames: ["rlp"],
  description:
    "RateLimitPolicy limits how many requests the targeted GatewayRoutes accept, per client, key, consumer, tenant, claim, header or globally, shared across gateway replicas through Redis.",
  spec: RateLimitPolicySpec,
  status: PolicyStatusSchema(),
  printerColumns: [
    targetsColumn,
    { name: "Failure Mode", type: "string", jsonPath: ".spec.failureMode", description: "Open or Closed." },
    conditionColumn("Accepted"),
    conditionColumn("ResolvedRefs"),
    conditionColumn("Programmed"),
    ageColumn,
  ],
};
