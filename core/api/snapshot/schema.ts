// The snapshot: the contract between the operator (or standalone compile) and every
// gateway replica. Everything is resolved: endpoints, policies attached to rules, key
// hashes, secret material for verification. Durations are milliseconds. Lists are sorted
// so the same configuration always gives the same bytes and the same version.
import { type Static, type TSchema, Type } from "@sinclair/typebox";

export const SNAPSHOT_API_VERSION = "sluice.dev/snapshot/v1";

const Id = Type.String({
  minLength: 1,
  description: "namespace/name of the source object (plus /index for rules).",
});
const Ms = Type.Integer({ minimum: 0, description: "Milliseconds." });
const opt = <T extends TSchema>(t: T) => Type.Optional(t);

const ValueMatch = Type.Object({
  type: Type.Union([Type.Literal("Exact"), Type.Literal("RegularExpression")]),
  name: Type.String(),
  value: Type.String(),
});

export const SnapshotRouteMatch = Type.Object({
  rule: Id,
  path: Type.Object({
    type: Type.Union([Type.Literal("Exact"), Type.Literal("PathPrefix"), Type.Literal("RegularExpression")]),
    value: Type.String(),
  }),
  method: opt(Type.String()),
  headers: Type.Array(ValueMatch),
  queryParams: Type.Array(ValueMatch),
});

const VirtualHost = Type.Object({
  hostname: Type.String({
    description: 'An exact host, a "*." wildcard, or "*" for routes without hostnames.',
  }),
  routes: Type.Array(SnapshotRouteMatch, {
    description: "Matches in precedence order: first that matches wins.",
  }),
});

const HeaderValue = Type.Object({ name: Type.String(), value: Type.String() });
const HeaderModifier = Type.Object({
  set: Type.Array(HeaderValue),
  add: Type.Array(HeaderValue),
  remove: Type.Array(Type.String()),
});

const Filter = Type.Union([
  Type.Object({ type: Type.Literal("RequestHeaderModifier"), ...HeaderModifier.properties }),
  Type.Object({ type: Type.Literal("ResponseHeaderModifier"), ...HeaderModifier.properties }),
  Type.Object({
    type: Type.Literal("URLRewrite"),
    hostname: opt(Type.String()),
    path: opt(
      Type.Object({
        type: Type.Union([Type.Literal("ReplaceFullPath"), Type.Literal("ReplacePrefixMatch")]),
        value: Type.String(),
      }),
    ),
  }),
  Type.Object({
    type: Type.Literal("RequestRedirect"),
    scheme: opt(Type.String()),
    hostname: opt(Type.String()),
    port: opt(Type.Integer()),
    path: opt(Type.String()),
    statusCode: Type.Integer(),
  }),
  Type.Object({
    type: Type.Literal("CORS"),
    allowOrigins: Type.Array(Type.String()),
    allowMethods: Type.Array(Type.String()),
    allowHeaders: Type.Array(Type.String()),
    exposeHeaders: Type.Array(Type.String()),
    allowCredentials: Type.Boolean(),
    maxAgeSeconds: opt(Type.Integer({ minimum: 0 })),
  }),
  Type.Object({
    type: Type.Literal("ResponseSecurityHeaders"),
    // Absent: the gateway's --security-headers value; empty: none on this rule.
    strictTransportSecurity: opt(Type.String()),
    contentTypeOptions: opt(Type.String()),
    frameOptions: opt(Type.String()),
    frameAncestors: opt(Type.String()),
    referrerPolicy: opt(Type.String()),
  }),
]);

export const SnapshotRule = Type.Object({
  id: Id,
  route: Type.Object({ namespace: Type.String(), name: Type.String() }),
  index: Type.Integer({ minimum: 0 }),
  name: opt(Type.String()),
  filters: Type.Array(Filter),
  backends: Type.Array(
    Type.Object({
      pool: Type.Union([Id, Type.Null()], {
        description: "null: an unresolved backendRef; its share gets 500.",
      }),
      weight: Type.Integer({ minimum: 0 }),
    }),
  ),
  timeouts: Type.Object({ requestMs: opt(Ms), backendRequestMs: opt(Ms) }),
  retry: opt(
    Type.Object({
      attempts: Type.Integer({ minimum: 0 }),
      retryOn: Type.Array(Type.String()),
      baseMs: Ms,
      maxMs: Ms,
    }),
  ),
  rateLimitPolicies: Type.Array(Id, { description: "Every policy applies; all must pass." }),
  authzPolicy: opt(Id),
  refuse: opt(
    Type.Object(
      {
        policies: Type.Array(Id, { minItems: 1 }),
        invalidRoute: opt(
          Type.Literal(true, {
            description:
              "The rule stands in for a route that is invalid and was never served (a placeholder, never a last good version).",
          }),
        ),
      },
      {
        description:
          "Fail closed: a policy targeting this rule is invalid (or its references do not resolve) and has no valid version to keep, so the rule answers 503 policy-invalid and never forwards.",
      },
    ),
  ),
});

export const SnapshotPool = Type.Object({
  id: Id,
  endpoints: Type.Array(
    Type.Object({ address: Type.String(), port: Type.Integer(), weight: Type.Integer() }),
  ),
  loadBalancing: Type.Object({
    algorithm: Type.Union([
      Type.Literal("RoundRobin"),
      Type.Literal("LeastRequest"),
      Type.Literal("Random"),
      Type.Literal("ConsistentHash"),
    ]),
    hashOn: opt(
      Type.Union([
        Type.Object({ header: Type.String() }),
        Type.Object({ cookie: Type.Object({ name: Type.String(), ttlMs: opt(Ms) }) }),
        Type.Object({ sourceIP: Type.Literal(true) }),
      ]),
    ),
  }),
  healthCheck: Type.Object({
    active: opt(
      Type.Object({
        path: Type.String(),
        intervalMs: Ms,
        timeoutMs: Ms,
        healthyThreshold: Type.Integer(),
        unhealthyThreshold: Type.Integer(),
      }),
    ),
    passive: opt(
      Type.Object({
        consecutiveErrors: Type.Integer(),
        baseEjectionMs: Ms,
        maxEjectionPercent: Type.Integer(),
      }),
    ),
  }),
  circuitBreaker: Type.Object({
    maxConnections: Type.Integer(),
    maxPendingRequests: Type.Integer(),
    maxRequests: Type.Integer(),
  }),
  connection: Type.Object({ connectTimeoutMs: Ms, idleTimeoutMs: Ms, http2: Type.Boolean() }),
  tls: opt(
    Type.Object({
      serverName: Type.String({ description: "SNI, and the name endpoint certificates must carry." }),
      ca: opt(Type.String({ description: "PEM CA certificates; absent: the system's trusted CAs." })),
    }),
  ),
});

export const SnapshotRateLimitPolicy = Type.Object({
  id: Id,
  failureMode: Type.Union([Type.Literal("Open"), Type.Literal("Closed")]),
  responseHeaders: Type.Union([Type.Literal("Draft"), Type.Literal("DraftAndLegacy"), Type.Literal("None")]),
  rules: Type.Array(
    Type.Object({
      name: Type.String(),
      key: Type.Object({
        type: Type.Union(
          ["ClientIP", "ApiKey", "Consumer", "Tenant", "JWTClaim", "Header", "Global"].map((t) =>
            Type.Literal(t),
          ),
        ),
        claim: opt(Type.String()),
        header: opt(Type.String()),
      }),
      algorithm: Type.Union(
        ["TokenBucket", "SlidingWindow", "FixedWindow", "LeakyBucket"].map((a) => Type.Literal(a)),
      ),
      requests: Type.Integer({ minimum: 1 }),
      periodMs: Ms,
      burst: opt(Type.Integer({ minimum: 0 })),
      overrides: Type.Array(
        Type.Object({ match: Type.String(), requests: Type.Integer(), burst: opt(Type.Integer()) }),
      ),
      blockMs: opt(Ms),
    }),
  ),
});

const CredentialSource = Type.Object({
  header: opt(Type.String()),
  query: opt(Type.String()),
  cookie: opt(Type.String()),
});

export const SnapshotAuthzPolicy = Type.Object({
  id: Id,
  authentication: opt(
    Type.Object({
      require: Type.Union([Type.Literal("Any"), Type.Literal("All")]),
      jwt: opt(
        Type.Array(
          Type.Object({
            name: Type.String(),
            issuer: Type.String(),
            audiences: Type.Array(Type.String()),
            algorithms: Type.Array(Type.String(), { minItems: 1 }),
            keys: Type.Union([
              Type.Object({ jwksUri: Type.String() }),
              Type.Object({
                jwks: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
              }),
              Type.Object({ hmacSecret: Type.String({ description: "base64 of the shared secret" }) }),
            ]),
            clockSkewMs: Ms,
            requiredClaims: Type.Array(Type.String()),
            rolesClaim: Type.String(),
            from: Type.Array(CredentialSource),
            claimToHeaders: Type.Array(Type.Object({ claim: Type.String(), header: Type.String() })),
          }),
        ),
      ),
      apiKey: opt(Type.Object({ from: Type.Array(CredentialSource) })),
    }),
  ),
  rules: Type.Array(
    Type.Object({
      name: opt(Type.String()),
      action: Type.Union([Type.Literal("Allow"), Type.Literal("Deny")]),
      principals: opt(Type.Record(Type.String(), Type.Array(Type.String()))),
      request: opt(
        Type.Object({
          methods: opt(Type.Array(Type.String())),
          paths: opt(Type.Array(Type.String())),
          headers: opt(Type.Array(HeaderValue)),
        }),
      ),
      when: Type.Array(Type.String()),
    }),
  ),
  defaultAction: Type.Union([Type.Literal("Allow"), Type.Literal("Deny")]),
});

export const SnapshotApiKey = Type.Object({
  digest: Type.String({ description: "hex HMAC-SHA256 of the key under the installation's hash key" }),
  id: Id,
  namespace: Type.String({ description: "Only AuthzPolicies of this namespace accept the key." }),
  consumer: Type.String(),
  tenant: opt(Type.String()),
  scopes: Type.Array(Type.String()),
  allowedCIDRs: Type.Array(Type.String()),
  expiresAt: opt(Type.String()),
});

export const SnapshotBody = Type.Object({
  apiVersion: Type.Literal(SNAPSHOT_API_VERSION),
  virtualHosts: Type.Array(VirtualHost),
  rules: Type.Array(SnapshotRule),
  pools: Type.Array(SnapshotPool),
  rateLimitPolicies: Type.Array(SnapshotRateLimitPolicy),
  authzPolicies: Type.Array(SnapshotAuthzPolicy),
  generations: opt(
    Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      description:
        "Kind/namespace/name → the metadata.generation of each object this snapshot serves; an object kept at its last valid generation shows that one (how a restarted operator knows what is served).",
    }),
  ),
  apiKeys: Type.Object({
    hashKeyId: Type.String({
      description: "First 16 hex digits of SHA-256 of the hash key, to detect a mismatch.",
    }),
    keys: Type.Array(SnapshotApiKey),
  }),
});

export const Snapshot = Type.Object({
  ...SnapshotBody.properties,
  version: Type.String({ pattern: "^sha256:[0-9a-f]{64}$", description: "Content hash of everything else." }),
});

export type Snapshot = Static<typeof Snapshot>;
export type SnapshotBody = Static<typeof SnapshotBody>;
export type SnapshotRule = Static<typeof SnapshotRule>;
export type SnapshotRouteMatch = Static<typeof SnapshotRouteMatch>;
export type SnapshotPool = Static<typeof SnapshotPool>;
export type SnapshotRateLimitPolicy = Static<typeof SnapshotRateLimitPolicy>;
export type SnapshotAuthzPolicy = Static<typeof SnapshotAuthzPolicy>;
export type SnapshotApiKey = Static<typeof SnapshotApiKey>;
export type SnapshotFilter = Static<typeof Filter>;
