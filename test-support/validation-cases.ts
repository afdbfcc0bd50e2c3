// Validation cases shared by the unit tests (our validator) and the e2e suite (the real
// API server): every CEL rule with objects it accepts and refuses, schema errors,
// list uniqueness. One table, two judges — they must agree.
export type Obj = Record<string, unknown>;

export const API_VERSION = "sluice.dev/v1alpha1";
export const object =
  (kind: string) =>
  (spec: unknown): Obj => ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name: "test", namespace: "shop" },
    spec,
  });
export const route = object("GatewayRoute");
export const pool = object("BackendPool");
export const rateLimit = object("RateLimitPolicy");
export const apiKey = object("ApiKey");
export const authz = object("AuthzPolicy");
export const ownership = object("HostnameOwnership");
/** A HostnameOwnership with one listener for api.example.com admitting `namespaces`. */
export const listenerFor = (namespaces: Obj) =>
  ownership({ listeners: [{ name: "api", hostname: "api.example.com", allowedRoutes: { namespaces } }] });
const NAME_IN_SHOP = {
  matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["shop"] }],
};

// ---------------------------------------------------------------------------------------------
// Fixtures

export const R0 = "spec.rules[0]";
export const BACKENDS = [{ name: "users" }];
/** A route with one rule that sends to the users pool (unless rule says otherwise). */
export const routeRule = (rule: Obj) => route({ rules: [{ backendRefs: BACKENDS, ...rule }] });
/** A route with one rule without backendRefs (for redirects). */
export const bareRule = (rule: Obj) => route({ rules: [rule] });

export const FILTER_TYPES = [
  "RequestHeaderModifier",
  "ResponseHeaderModifier",
  "URLRewrite",
  "RequestRedirect",
  "CORS",
  "ResponseSecurityHeaders",
] as const;
export type FilterType = (typeof FILTER_TYPES)[number];
export const FILTER_FIELD: Record<FilterType, string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  URLRewrite: "urlRewrite",
  RequestRedirect: "requestRedirect",
  CORS: "cors",
  ResponseSecurityHeaders: "responseSecurityHeaders",
};
export const FILTER_SETTINGS: Record<FilterType, Obj> = {
  RequestHeaderModifier: { set: [{ name: "x-gateway", value: "sluice" }] },
  ResponseHeaderModifier: { remove: ["server"] },
  URLRewrite: { hostname: "internal.example.com" },
  RequestRedirect: { scheme: "https" },
  CORS: { allowOrigins: ["https://shop.example.com"] },
  ResponseSecurityHeaders: { frameOptions: "SAMEORIGIN", referrerPolicy: "" },
};
export const filter = (type: FilterType): Obj => ({ type, [FILTER_FIELD[type]]: FILTER_SETTINGS[type] });
/** A route whose only rule has these filters; backendRefs only when no filter redirects. */
export const filtered = (...filters: Obj[]) =>
  filters.some((f) => f.type === "RequestRedirect") ? bareRule({ filters }) : routeRule({ filters });
export const rewritePath = (path: Obj): Obj => ({ type: "URLRewrite", urlRewrite: { path } });
export const cors = (settings: Obj) => filtered({ type: "CORS", cors: settings });

export const SERVICE = { name: "users", port: 8080 };
export const servicePool = (spec: Obj = {}) => pool({ service: SERVICE, ...spec });
export const hashPool = (consistentHash: Obj) =>
  servicePool({ loadBalancing: { algorithm: "ConsistentHash", consistentHash } });

export const TARGETS = [{ kind: "GatewayRoute", name: "users" }];
export const limitRule = (rule: Obj = {}): Obj => ({
  name: "per-ip",
  key: { type: "ClientIP" },
  limit: { requests: 100, per: "1m" },
  ...rule,
});
export const limits = (...rules: Obj[]) => rateLimit({ targetRefs: TARGETS, rules });
export const keyedLimit = (key: Obj) => limits(limitRule({ key }));

export const key = (spec: Obj = {}) =>
  apiKey({ secretRef: { name: "acme-key", key: "key" }, consumer: "acme", ...spec });

export const ISSUER = { name: "idp", issuer: "https://idp.example.com/" };
export const JWKS = { uri: "https://idp.example.com/.well-known/jwks.json" };
export const HMAC_SECRET = { name: "jwt-secret", key: "secret" };
export const authn = (authentication: Obj, spec: Obj = {}) =>
  authz({ targetRefs: TARGETS, authentication, ...spec });
/** A policy with one JWT provider: ISSUER plus the given fields (jwks or hmacSecretRef are not added). */
export const provider = (fields: Obj) => authn({ jwt: { providers: [{ ...ISSUER, ...fields }] } });
export const API_KEY_AUTHN = { from: [{ header: "x-api-key" }] };
export const apiKeyFrom = (...from: Obj[]) => authn({ apiKey: { from } });

// The CEL rules' messages, as written in the schemas.
export const M = {
  pathSlash: "an Exact or PathPrefix value must start with '/'",
  fullPath: "ReplaceFullPath needs replaceFullPath (and no replacePrefixMatch)",
  prefixPath: "ReplacePrefixMatch needs replacePrefixMatch (and no replaceFullPath)",
  corsWildcard: "allowCredentials cannot be combined with the wildcard origin '*'",
  filterField: (type: FilterType) => `${FILTER_FIELD[type]} must be set exactly when type is ${type}`,
  timeouts: "backendRequest must not be longer than request",
  backoff: "base must not be longer than max",
  backendRefs:
    "a rule needs backendRefs, unless it has a RequestRedirect filter, which cannot have backendRefs",
  redirectRewrite: "RequestRedirect and URLRewrite cannot be used together",
  filterOnce: "each filter type may appear at most once",
  prefixMatch: "ReplacePrefixMatch needs every match to have a PathPrefix path",
  ruleNames: "rule names must be unique within the route",
  hashOne: "exactly one of header, cookie or sourceIP: true must be set",
  hashAlgorithm: "consistentHash must be set exactly when algorithm is ConsistentHash",
  activeTimeout: "timeout must be shorter than interval",
  serviceOrEndpoints: "exactly one of service or endpoints must be set",
  claim: "claim must be set exactly when type is JWTClaim",
  header: "header must be set exactly when type is Header",
  burst: "limit.burst applies to TokenBucket and LeakyBucket only",
  credential: "exactly one of header, query or cookie must be set",
  jwks: "exactly one of uri, inline or secretRef must be set",
  keyMaterial: "exactly one of jwks or hmacSecretRef must be set",
  hmac: "HMAC algorithms (HS*) go with hmacSecretRef only, and hmacSecretRef with HMAC algorithms only",
  authnKind: "set jwt, apiKey or both",
  requireAll: "require: All needs both jwt and apiKey",
  positive: "must be longer than 0s",
  positiveTimeout: "must be longer than 0s (leave the field out for no time limit)",
  positiveAttempt: "must be longer than 0s (leave the field out for no limit per attempt)",
  positiveCookie: "must be longer than 0s (leave the field out for a session cookie)",
  positiveBlock: "must be longer than 0s (leave the field out for no penalty)",
  timerMax: "must be at most 596h",
  ejectionMax: "must be at most 59h",
  selector: "selector must be set exactly when from is Selector",
} as const;

// ---------------------------------------------------------------------------------------------
// CEL rules: objects each rule accepts…

export interface ValidCase {
  name: string;
  /** The message of the CEL rule this object exercises. */
  rule: string;
  object: Obj;
}

export const celValid: ValidCase[] = [
  // GatewayRoute
  {
    name: "Exact path starting with /",
    rule: M.pathSlash,
    object: routeRule({ matches: [{ path: { type: "Exact", value: "/users" } }] }),
  },
  {
    name: "RegularExpression path need not start with /",
    rule: M.pathSlash,
    object: routeRule({ matches: [{ path: { type: "RegularExpression", value: ".*\\.png" } }] }),
  },
  {
    name: "empty path match defaults to PathPrefix /",
    rule: M.pathSlash,
    object: routeRule({ matches: [{ path: {} }] }),
  },
  {
    name: "ReplaceFullPath with replaceFullPath",
    rule: M.fullPath,
    object: filtered(rewritePath({ type: "ReplaceFullPath", replaceFullPath: "/v2/users" })),
  },
  {
    name: "ReplacePrefixMatch with replacePrefixMatch",
    rule: M.prefixPath,
    object: routeRule({
      matches: [{ path: { type: "PathPrefix", value: "/api" } }],
      filters: [rewritePath({ type: "ReplacePrefixMatch", replacePrefixMatch: "/" })],
    }),
  },
  { name: "CORS wildcard without credentials", rule: M.corsWildcard, object: cors({ allowOrigins: ["*"] }) },
  {
    name: "CORS wildcard with allowCredentials: false",
    rule: M.corsWildcard,
    object: cors({ allowOrigins: ["*"], allowCredentials: false }),
  },
  {
    name: "CORS credentials with a named origin",
    rule: M.corsWildcard,
    object: cors({ allowOrigins: ["https://shop.example.com"], allowCredentials: true }),
  },
  ...FILTER_TYPES.map((type) => ({
    name: `${type} filter with ${FILTER_FIELD[type]}`,
    rule: M.filterField(type),
    object: filtered(filter(type)),
  })),
  {
    name: "backendRequest shorter than request (mixed units)",
    rule: M.timeouts,
    object: routeRule({ timeouts: { request: "2m", backendRequest: "1m30s" } }),
  },
  {
    name: "backendRequest equal to request",
    rule: M.timeouts,
    object: routeRule({ timeouts: { request: "5s", backendRequest: "5000ms" } }),
  },
  {
    name: "backendRequest alone",
    rule: M.timeouts,
    object: routeRule({ timeouts: { backendRequest: "1h" } }),
  },
  {
    name: "backoff with defaults (25ms..250ms)",
    rule: M.backoff,
    object: routeRule({ retry: { backoff: {} } }),
  },
  {
    name: "backoff base equal to max",
    rule: M.backoff,
    object: routeRule({ retry: { backoff: { base: "1s", max: "1s" } } }),
  },
  { name: "rule with backendRefs", rule: M.backendRefs, object: routeRule({}) },
  {
    name: "redirect rule without backendRefs",
    rule: M.backendRefs,
    object: filtered(filter("RequestRedirect")),
  },
  {
    name: "redirect rule with empty backendRefs",
    rule: M.backendRefs,
    object: bareRule({ filters: [filter("RequestRedirect")], backendRefs: [] }),
  },
  {
    name: "URLRewrite with a header modifier",
    rule: M.redirectRewrite,
    object: filtered(filter("URLRewrite"), filter("RequestHeaderModifier")),
  },
  {
    name: "RequestRedirect with a header modifier",
    rule: M.redirectRewrite,
    object: filtered(filter("RequestRedirect"), filter("ResponseHeaderModifier")),
  },
  {
    name: "one filter of each type",
    rule: M.filterOnce,
    object: filtered(
      filter("RequestHeaderModifier"),
      filter("ResponseHeaderModifier"),
      filter("URLRewrite"),
      filter("CORS"),
    ),
  },
  {
    name: "ReplacePrefixMatch with every match a PathPrefix (one defaulted)",
    rule: M.prefixMatch,
    object: routeRule({
      matches: [{ path: { value: "/api" } }, { path: { type: "PathPrefix", value: "/v1" }, method: "GET" }],
      filters: [rewritePath({ type: "ReplacePrefixMatch", replacePrefixMatch: "/internal" })],
    }),
  },
  {
    name: "ReplaceFullPath needs no matches",
    rule: M.prefixMatch,
    object: filtered(rewritePath({ type: "ReplaceFullPath", replaceFullPath: "/" })),
  },
  {
    name: "distinct rule names and unnamed rules",
    rule: M.ruleNames,
    object: route({
      rules: [
        { name: "a", backendRefs: BACKENDS },
        { name: "b", backendRefs: BACKENDS },
        { backendRefs: BACKENDS },
        { backendRefs: BACKENDS },
      ],
    }),
  },
  // BackendPool
  { name: "consistent hash on a header", rule: M.hashOne, object: hashPool({ header: "x-user-id" }) },
  {
    name: "consistent hash on a cookie",
    rule: M.hashOne,
    object: hashPool({ cookie: { name: "sticky", ttl: "1h" } }),
  },
  { name: "consistent hash on the source IP", rule: M.hashOne, object: hashPool({ sourceIP: true }) },
  {
    name: "consistent hash on a header, sourceIP: false",
    rule: M.hashOne,
    object: hashPool({ header: "x-user-id", sourceIP: false }),
  },
  {
    name: "ConsistentHash with consistentHash",
    rule: M.hashAlgorithm,
    object: hashPool({ cookie: { name: "sticky" } }),
  },
  {
    name: "LeastRequest without consistentHash",
    rule: M.hashAlgorithm,
    object: servicePool({ loadBalancing: { algorithm: "LeastRequest" } }),
  },
  {
    name: "active health check with defaults (1s < 5s)",
    rule: M.activeTimeout,
    object: servicePool({ healthCheck: { active: {} } }),
  },
  {
    name: "active health check timeout just under interval",
    rule: M.activeTimeout,
    object: servicePool({ healthCheck: { active: { interval: "1m", timeout: "59s999ms" } } }),
  },
  { name: "pool from a Service", rule: M.serviceOrEndpoints, object: servicePool() },
  {
    name: "pool of static endpoints",
    rule: M.serviceOrEndpoints,
    object: pool({
      endpoints: [
        { address: "10.0.0.1", port: 8080 },
        { address: "fd00::1", port: 8080, weight: 3 },
      ],
    }),
  },
  // RateLimitPolicy
  {
    name: "JWTClaim key with claim",
    rule: M.claim,
    object: keyedLimit({ type: "JWTClaim", claim: "org.id" }),
  },
  { name: "ClientIP key without claim", rule: M.claim, object: keyedLimit({ type: "ClientIP" }) },
  {
    name: "Header key with header",
    rule: M.header,
    object: keyedLimit({ type: "Header", header: "x-tenant" }),
  },
  { name: "Global key without header", rule: M.header, object: keyedLimit({ type: "Global" }) },
  {
    name: "burst with the default algorithm (TokenBucket)",
    rule: M.burst,
    object: limits(limitRule({ limit: { requests: 10, per: "1s", burst: 5 } })),
  },
  {
    name: "burst with LeakyBucket",
    rule: M.burst,
    object: limits(limitRule({ algorithm: "LeakyBucket", limit: { requests: 10, per: "1s", burst: 5 } })),
  },
  {
    name: "SlidingWindow without burst",
    rule: M.burst,
    object: limits(limitRule({ algorithm: "SlidingWindow" })),
  },
  // AuthzPolicy
  { name: "API key from a header", rule: M.credential, object: apiKeyFrom({ header: "x-api-key" }) },
  {
    name: "API key from query then cookie",
    rule: M.credential,
    object: apiKeyFrom({ query: "api_key" }, { cookie: "key" }),
  },
  {
    name: "token from a cookie",
    rule: M.credential,
    object: provider({ jwks: JWKS, from: [{ cookie: "session" }] }),
  },
  { name: "JWKS by uri", rule: M.jwks, object: provider({ jwks: JWKS }) },
  { name: "JWKS inline", rule: M.jwks, object: provider({ jwks: { inline: '{"keys":[]}' } }) },
  {
    name: "JWKS from a Secret",
    rule: M.jwks,
    object: provider({ jwks: { secretRef: { name: "jwks", key: "jwks.json" } } }),
  },
  { name: "provider with jwks only", rule: M.keyMaterial, object: provider({ jwks: JWKS }) },
  {
    name: "provider with hmacSecretRef only",
    rule: M.keyMaterial,
    object: provider({ hmacSecretRef: HMAC_SECRET }),
  },
  {
    name: "HMAC algorithms with hmacSecretRef",
    rule: M.hmac,
    object: provider({ hmacSecretRef: HMAC_SECRET, algorithms: ["HS256", "HS512"] }),
  },
  {
    name: "asymmetric algorithms with jwks",
    rule: M.hmac,
    object: provider({ jwks: JWKS, algorithms: ["RS256", "ES256", "EdDSA"] }),
  },
  {
    name: "hmacSecretRef without algorithms",
    rule: M.hmac,
    object: provider({ hmacSecretRef: HMAC_SECRET }),
  },
  { name: "authentication by API key only", rule: M.authnKind, object: authn({ apiKey: API_KEY_AUTHN }) },
  { name: "authentication by JWT only", rule: M.authnKind, object: provider({ jwks: JWKS }) },
  {
    name: "require: All with jwt and apiKey",
    rule: M.requireAll,
    object: authn({ require: "All", apiKey: API_KEY_AUTHN, jwt: { providers: [{ ...ISSUER, jwks: JWKS }] } }),
  },
  {
    name: "require: Any with apiKey only",
    rule: M.requireAll,
    object: authn({ require: "Any", apiKey: API_KEY_AUTHN }),
  },
  // Durations that must be longer than 0s: the shortest one there is, and the defaults.
  {
    name: "rate limit per 1ms",
    rule: M.positive,
    object: limits(limitRule({ limit: { requests: 1, per: "1ms" } })),
  },
  {
    name: "blockDuration 1s",
    rule: M.positiveBlock,
    object: limits(limitRule({ blockDuration: "1s" })),
  },
  {
    name: "request and backendRequest timeouts of 1ms",
    rule: M.positiveTimeout,
    object: routeRule({ timeouts: { request: "1ms", backendRequest: "1ms" } }),
  },
  {
    name: "backendRequest timeout alone",
    rule: M.positiveAttempt,
    object: routeRule({ timeouts: { backendRequest: "0h0m1s" } }),
  },
  {
    name: "backoff 1ms to 1ms",
    rule: M.positive,
    object: routeRule({ retry: { backoff: { base: "1ms", max: "1ms" } } }),
  },
  {
    name: "cookie ttl 1s",
    rule: M.positiveCookie,
    object: hashPool({ cookie: { name: "sticky", ttl: "1s" } }),
  },
  {
    name: "pool durations by default",
    rule: M.positive,
    object: servicePool({ healthCheck: { active: {}, passive: {} }, connection: {} }),
  },
  // …and at most what a timer can wait for (longer ones fire at once in Node.js).
  {
    name: "request timeout and backoff of 596h",
    rule: M.timerMax,
    object: routeRule({ timeouts: { request: "596h" }, retry: { backoff: { base: "596h", max: "596h" } } }),
  },
  {
    name: "pool timers of 596h, ejections of 59h",
    rule: M.ejectionMax,
    object: servicePool({
      healthCheck: { active: { interval: "596h", timeout: "595h" }, passive: { baseEjectionTime: "59h" } },
      connection: { connectTimeout: "596h", idleTimeout: "596h" },
    }),
  },
  {
    name: "pool durations of 1ms",
    rule: M.positive,
    object: servicePool({
      healthCheck: { active: { interval: "2ms", timeout: "1ms" }, passive: { baseEjectionTime: "1ms" } },
      connection: { connectTimeout: "1ms", idleTimeout: "1ms" },
    }),
  },
  // HostnameOwnership
  {
    name: "listener admitting namespaces by a selector",
    rule: M.selector,
    object: listenerFor({ from: "Selector", selector: NAME_IN_SHOP }),
  },
  { name: "listener admitting every namespace", rule: M.selector, object: listenerFor({ from: "All" }) },
];

// …and objects each rule refuses.

export interface InvalidCase {
  name: string;
  object: Obj;
  /** [path, text the message contains]; the issues must be exactly these (in any order). */
  issues: [path: string, message: string][];
  /** Only require the listed issues to be among those returned. */
}

export const F0 = `${R0}.filters[0]`;

export const celInvalid: InvalidCase[] = [
  // GatewayRoute
  {
    name: "PathPrefix value without leading /",
    object: routeRule({ matches: [{ path: { type: "PathPrefix", value: "users" } }] }),
    issues: [[`${R0}.matches[0].path.value`, M.pathSlash]],
  },
  {
    name: "defaulted PathPrefix value without leading / (second match)",
    object: routeRule({ matches: [{ method: "GET" }, { path: { value: "users" } }] }),
    issues: [[`${R0}.matches[1].path.value`, M.pathSlash]],
  },
  {
    name: "Exact value without leading /",
    object: routeRule({ matches: [{ path: { type: "Exact", value: "*" } }] }),
    issues: [[`${R0}.matches[0].path.value`, M.pathSlash]],
  },
  {
    name: "ReplaceFullPath without replaceFullPath",
    object: filtered(rewritePath({ type: "ReplaceFullPath" })),
    issues: [[`${F0}.urlRewrite.path`, M.fullPath]],
  },
  {
    name: "ReplaceFullPath with replacePrefixMatch as well",
    object: filtered(
      rewritePath({ type: "ReplaceFullPath", replaceFullPath: "/a", replacePrefixMatch: "/b" }),
    ),
    issues: [[`${F0}.urlRewrite.path`, M.fullPath]],
  },
  {
    name: "ReplacePrefixMatch with replaceFullPath instead",
    object: routeRule({
      matches: [{ path: { value: "/api" } }],
      filters: [rewritePath({ type: "ReplacePrefixMatch", replaceFullPath: "/a" })],
    }),
    issues: [[`${F0}.urlRewrite.path`, M.prefixPath]],
  },
  {
    name: "CORS credentials with the wildcard origin",
    object: cors({ allowOrigins: ["https://a.example.com", "*"], allowCredentials: true }),
    issues: [[`${F0}.cors.allowOrigins`, M.corsWildcard]],
  },
  // A filter carrying another type's settings: only that type's rule fails.
  ...FILTER_TYPES.map((type) => {
    const host: FilterType =
      type === "RequestHeaderModifier" ? "ResponseHeaderModifier" : "RequestHeaderModifier";
    return {
      name: `${host} filter carrying ${FILTER_FIELD[type]}`,
      object: filtered({ ...filter(host), [FILTER_FIELD[type]]: FILTER_SETTINGS[type] }),
      issues: [[`${F0}.${FILTER_FIELD[type]}`, M.filterField(type)]] as [string, string][],
    };
  }),
  // A filter without its settings.
  ...FILTER_TYPES.map((type) => ({
    name: `${type} filter without ${FILTER_FIELD[type]}`,
    object: filtered({ type }),
    issues: [[`${F0}.${FILTER_FIELD[type]}`, M.filterField(type)]] as [string, string][],
  })),
  {
    name: "backendRequest longer than request",
    object: routeRule({ timeouts: { request: "10s", backendRequest: "1m" } }),
    issues: [[`${R0}.timeouts.backendRequest`, M.timeouts]],
  },
  {
    name: "backendRequest 1ms longer than request",
    object: routeRule({ timeouts: { request: "1m30s", backendRequest: "1m30s1ms" } }),
    issues: [[`${R0}.timeouts.backendRequest`, M.timeouts]],
  },
  {
    name: "backoff base longer than max",
    object: routeRule({ retry: { attempts: 3, backoff: { base: "2s", max: "1s" } } }),
    issues: [[`${R0}.retry.backoff.base`, M.backoff]],
  },
  {
    name: "backoff base longer than the default max (250ms)",
    object: routeRule({ retry: { backoff: { base: "1s" } } }),
    issues: [[`${R0}.retry.backoff.base`, M.backoff]],
  },
  {
    name: "rule without backendRefs",
    object: bareRule({ name: "a" }),
    issues: [[`${R0}.backendRefs`, M.backendRefs]],
  },
  {
    name: "rule with empty backendRefs",
    object: bareRule({ backendRefs: [], filters: [filter("RequestHeaderModifier")] }),
    issues: [[`${R0}.backendRefs`, M.backendRefs]],
  },
  {
    name: "redirect rule with backendRefs",
    object: routeRule({ filters: [filter("RequestRedirect")] }),
    issues: [[`${R0}.backendRefs`, M.backendRefs]],
  },
  {
    name: "RequestRedirect with URLRewrite",
    object: filtered(filter("RequestRedirect"), filter("URLRewrite")),
    issues: [[`${R0}.filters`, M.redirectRewrite]],
  },
  {
    name: "two RequestHeaderModifier filters",
    object: filtered(filter("RequestHeaderModifier"), filter("CORS"), filter("RequestHeaderModifier")),
    issues: [[`${R0}.filters`, M.filterOnce]],
  },
  {
    name: "ReplacePrefixMatch with an Exact match",
    object: routeRule({
      matches: [{ path: { value: "/api" } }, { path: { type: "Exact", value: "/api" } }],
      filters: [rewritePath({ type: "ReplacePrefixMatch", replacePrefixMatch: "/" })],
    }),
    issues: [[`${R0}.filters`, M.prefixMatch]],
  },
  {
    name: "ReplacePrefixMatch without matches",
    object: filtered(rewritePath({ type: "ReplacePrefixMatch", replacePrefixMatch: "/" })),
    issues: [[`${R0}.filters`, M.prefixMatch]],
  },
  {
    name: "ReplacePrefixMatch with a match that has no path",
    object: routeRule({
      matches: [{ method: "GET" }],
      filters: [rewritePath({ type: "ReplacePrefixMatch", replacePrefixMatch: "/" })],
    }),
    issues: [[`${R0}.filters`, M.prefixMatch]],
  },
  {
    name: "two rules with the same name",
    object: route({
      rules: [
        { name: "a", backendRefs: BACKENDS },
        { backendRefs: BACKENDS },
        { name: "a", backendRefs: BACKENDS },
      ],
    }),
    issues: [["spec.rules", M.ruleNames]],
  },
  // BackendPool
  {
    name: "consistent hash on a header and the source IP",
    object: hashPool({ header: "x-user-id", sourceIP: true }),
    issues: [["spec.loadBalancing.consistentHash", M.hashOne]],
  },
  {
    name: "consistent hash with sourceIP: false only",
    object: hashPool({ sourceIP: false }),
    issues: [["spec.loadBalancing.consistentHash", M.hashOne]],
  },
  {
    name: "consistent hash on nothing",
    object: hashPool({}),
    issues: [["spec.loadBalancing.consistentHash", M.hashOne]],
  },
  {
    name: "ConsistentHash without consistentHash",
    object: servicePool({ loadBalancing: { algorithm: "ConsistentHash" } }),
    issues: [["spec.loadBalancing.consistentHash", M.hashAlgorithm]],
  },
  {
    name: "consistentHash with the default algorithm (RoundRobin)",
    object: servicePool({ loadBalancing: { consistentHash: { header: "x-user-id" } } }),
    issues: [["spec.loadBalancing.consistentHash", M.hashAlgorithm]],
  },
  {
    name: "active health check timeout equal to interval",
    object: servicePool({ healthCheck: { active: { interval: "2s", timeout: "2000ms" } } }),
    issues: [["spec.healthCheck.active.timeout", M.activeTimeout]],
  },
  {
    name: "active health check interval under the default timeout (1s)",
    object: servicePool({ healthCheck: { active: { interval: "500ms" } } }),
    issues: [["spec.healthCheck.active.timeout", M.activeTimeout]],
  },
  {
    name: "pool with both service and endpoints",
    object: servicePool({ endpoints: [{ address: "10.0.0.1", port: 80 }] }),
    issues: [["spec", M.serviceOrEndpoints]],
  },
  {
    name: "pool with neither service nor endpoints",
    object: pool({}),
    issues: [["spec", M.serviceOrEndpoints]],
  },
  // RateLimitPolicy
  {
    name: "JWTClaim key without claim",
    object: keyedLimit({ type: "JWTClaim" }),
    issues: [[`${R0}.key.claim`, M.claim]],
  },
  {
    name: "Tenant key with claim",
    object: keyedLimit({ type: "Tenant", claim: "org" }),
    issues: [[`${R0}.key.claim`, M.claim]],
  },
  {
    name: "Header key without header",
    object: keyedLimit({ type: "Header" }),
    issues: [[`${R0}.key.header`, M.header]],
  },
  {
    name: "ApiKey key with header (second rule)",
    object: limits(limitRule(), limitRule({ name: "per-key", key: { type: "ApiKey", header: "x-api-key" } })),
    issues: [["spec.rules[1].key.header", M.header]],
  },
  {
    name: "burst with SlidingWindow",
    object: limits(limitRule({ algorithm: "SlidingWindow", limit: { requests: 10, per: "1s", burst: 5 } })),
    issues: [[`${R0}.limit.burst`, M.burst]],
  },
  {
    name: "burst: 0 with FixedWindow",
    object: limits(limitRule({ algorithm: "FixedWindow", limit: { requests: 10, per: "1s", burst: 0 } })),
    issues: [[`${R0}.limit.burst`, M.burst]],
  },
  // AuthzPolicy
  {
    name: "API key from a header and a query parameter",
    object: apiKeyFrom({ header: "x-api-key" }, { header: "x-key", query: "key" }),
    issues: [["spec.authentication.apiKey.from[1]", M.credential]],
  },
  {
    name: "API key from nowhere",
    object: apiKeyFrom({}),
    issues: [["spec.authentication.apiKey.from[0]", M.credential]],
  },
  {
    name: "token from a cookie and a header",
    object: provider({ jwks: JWKS, from: [{ cookie: "session", header: "authorization" }] }),
    issues: [["spec.authentication.jwt.providers[0].from[0]", M.credential]],
  },
  {
    name: "JWKS by uri and inline",
    object: provider({ jwks: { ...JWKS, inline: '{"keys":[]}' } }),
    issues: [["spec.authentication.jwt.providers[0].jwks", M.jwks]],
  },
  {
    name: "empty JWKS",
    object: provider({ jwks: {} }),
    issues: [["spec.authentication.jwt.providers[0].jwks", M.jwks]],
  },
  {
    name: "provider without jwks or hmacSecretRef",
    object: provider({}),
    issues: [["spec.authentication.jwt.providers[0]", M.keyMaterial]],
  },
  {
    name: "provider with jwks and hmacSecretRef",
    object: provider({ jwks: JWKS, hmacSecretRef: HMAC_SECRET, algorithms: ["HS256"] }),
    issues: [["spec.authentication.jwt.providers[0]", M.keyMaterial]],
  },
  {
    name: "hmacSecretRef with an asymmetric algorithm",
    object: provider({ hmacSecretRef: HMAC_SECRET, algorithms: ["HS256", "RS256"] }),
    issues: [["spec.authentication.jwt.providers[0].algorithms", M.hmac]],
  },
  {
    name: "jwks with an HMAC algorithm",
    object: provider({ jwks: JWKS, algorithms: ["ES256", "HS384"] }),
    issues: [["spec.authentication.jwt.providers[0].algorithms", M.hmac]],
  },
  { name: "empty authentication", object: authn({}), issues: [["spec.authentication", M.authnKind]] },
  {
    name: "require: All with apiKey only",
    object: authn({ require: "All", apiKey: API_KEY_AUTHN }),
    issues: [["spec.authentication.require", M.requireAll]],
  },
  {
    name: "require: All with jwt only",
    object: authn({ require: "All", jwt: { providers: [{ ...ISSUER, jwks: JWKS }] } }),
    issues: [["spec.authentication.require", M.requireAll]],
  },
  // Zero durations (issue 18: `per: 0s` was Accepted and never limited). Any spelling of zero.
  {
    name: "rate limit per 0s",
    object: limits(limitRule({ limit: { requests: 10, per: "0s" } })),
    issues: [[`${R0}.limit.per`, M.positive]],
  },
  {
    name: "rate limit per 0h0m0s0ms",
    object: limits(limitRule({ limit: { requests: 10, per: "0h0m0s0ms" } })),
    issues: [[`${R0}.limit.per`, M.positive]],
  },
  {
    name: "blockDuration 0ms",
    object: limits(limitRule({ blockDuration: "0ms" })),
    issues: [[`${R0}.blockDuration`, M.positiveBlock]],
  },
  {
    name: "request timeout 0s",
    object: routeRule({ timeouts: { request: "0s" } }),
    issues: [[`${R0}.timeouts.request`, M.positiveTimeout]],
  },
  {
    name: "backendRequest timeout 00000ms",
    object: routeRule({ timeouts: { request: "10s", backendRequest: "00000ms" } }),
    issues: [[`${R0}.timeouts.backendRequest`, M.positiveAttempt]],
  },
  {
    name: "backoff base 0ms",
    object: routeRule({ retry: { backoff: { base: "0ms" } } }),
    issues: [[`${R0}.retry.backoff.base`, M.positive]],
  },
  {
    name: "backoff max 0s",
    object: routeRule({ retry: { backoff: { base: "0s", max: "0s" } } }),
    issues: [
      [`${R0}.retry.backoff.base`, M.positive],
      [`${R0}.retry.backoff.max`, M.positive],
    ],
  },
  {
    name: "cookie ttl 0s",
    object: hashPool({ cookie: { name: "sticky", ttl: "0s" } }),
    issues: [["spec.loadBalancing.consistentHash.cookie.ttl", M.positiveCookie]],
  },
  {
    name: "active health check interval 0s",
    object: servicePool({ healthCheck: { active: { interval: "0s", timeout: "0s" } } }),
    issues: [
      ["spec.healthCheck.active.interval", M.positive],
      ["spec.healthCheck.active.timeout", M.positive],
      ["spec.healthCheck.active.timeout", M.activeTimeout],
    ],
  },
  {
    name: "active health check timeout 0ms",
    object: servicePool({ healthCheck: { active: { timeout: "0ms" } } }),
    issues: [["spec.healthCheck.active.timeout", M.positive]],
  },
  {
    name: "baseEjectionTime 0s",
    object: servicePool({ healthCheck: { passive: { baseEjectionTime: "0s" } } }),
    issues: [["spec.healthCheck.passive.baseEjectionTime", M.positive]],
  },
  {
    name: "request timeout 597h (a timer would fire after 1 ms)",
    object: routeRule({ timeouts: { request: "597h" } }),
    issues: [[`${R0}.timeouts.request`, M.timerMax]],
  },
  {
    name: "backendRequest and backoff beyond 596h",
    object: routeRule({
      timeouts: { backendRequest: "596h1ms" },
      retry: { backoff: { base: "600h", max: "99999h" } },
    }),
    issues: [
      [`${R0}.timeouts.backendRequest`, M.timerMax],
      [`${R0}.retry.backoff.base`, M.timerMax],
      [`${R0}.retry.backoff.max`, M.timerMax],
    ],
  },
  {
    name: "health check interval 1000h and baseEjectionTime 60h",
    object: servicePool({
      healthCheck: { active: { interval: "1000h", timeout: "999h" }, passive: { baseEjectionTime: "60h" } },
    }),
    issues: [
      ["spec.healthCheck.active.interval", M.timerMax],
      ["spec.healthCheck.active.timeout", M.timerMax],
      ["spec.healthCheck.passive.baseEjectionTime", M.ejectionMax],
    ],
  },
  {
    name: "connectTimeout and idleTimeout of 700h",
    object: servicePool({ connection: { connectTimeout: "700h", idleTimeout: "600h0m" } }),
    issues: [
      ["spec.connection.connectTimeout", M.timerMax],
      ["spec.connection.idleTimeout", M.timerMax],
    ],
  },
  {
    name: "connectTimeout 0s and idleTimeout 0m",
    object: servicePool({ connection: { connectTimeout: "0s", idleTimeout: "0m" } }),
    issues: [
      ["spec.connection.connectTimeout", M.positive],
      ["spec.connection.idleTimeout", M.positive],
    ],
  },
  // HostnameOwnership
  {
    name: "from: Selector without a selector",
    object: listenerFor({ from: "Selector" }),
    issues: [["spec.listeners[0].allowedRoutes.namespaces.selector", M.selector]],
  },
  {
    name: "from: Same with a selector",
    object: listenerFor({ from: "Same", selector: NAME_IN_SHOP }),
    issues: [["spec.listeners[0].allowedRoutes.namespaces.selector", M.selector]],
  },
];

// ---------------------------------------------------------------------------------------------
// Schema: required and unknown fields, enums, patterns, types and bounds; list uniqueness.

export const DURATION_PATTERN = 'must match pattern "^([0-9]{1,5}(h|m|s|ms)){1,4}$"';

export const schemaInvalid: InvalidCase[] = [
  {
    name: "missing spec",
    object: { apiVersion: API_VERSION, kind: "GatewayRoute", metadata: { name: "test" } },
    issues: [["spec", "Required value"]],
  },
  {
    name: "missing spec.rules",
    object: route({ hostnames: ["api.example.com"] }),
    issues: [["spec.rules", "Required value"]],
  },
  {
    name: "missing backendRef name",
    object: route({ rules: [{}, { backendRefs: [{ name: "a" }, { weight: 2 }] }] }),
    issues: [["spec.rules[1].backendRefs[1].name", "Required value"]],
  },
  {
    name: "missing endpoint port",
    object: pool({ endpoints: [{ address: "10.0.0.1" }] }),
    issues: [["spec.endpoints[0].port", "Required value"]],
  },
  {
    name: "missing ApiKey consumer",
    object: apiKey({ secretRef: { name: "k", key: "key" } }),
    issues: [["spec.consumer", "Required value"]],
  },
  {
    name: "missing rate limit",
    object: limits({ name: "per-ip", key: { type: "ClientIP" } }),
    issues: [["spec.rules[0].limit", "Required value"]],
  },
  {
    name: "missing AuthzPolicy targetRefs",
    object: authz({ defaultAction: "Allow" }),
    issues: [["spec.targetRefs", "Required value"]],
  },
  {
    name: "unknown field in a backendRef",
    object: routeRule({ backendRefs: [{ name: "users", port: 8080 }] }),
    issues: [[`${R0}.backendRefs[0].port`, "unknown field"]],
  },
  {
    name: "unknown field in spec",
    object: servicePool({ replicas: 3 }),
    issues: [["spec.replicas", "unknown field"]],
  },
  {
    name: "unknown top-level field",
    object: { ...key(), specs: {} },
    issues: [["specs", "unknown field"]],
  },
  {
    name: "misplaced field (backendRequest on the rule)",
    object: routeRule({ backendRequest: "5s" }),
    issues: [[`${R0}.backendRequest`, "unknown field"]],
  },
  {
    name: "bad load-balancing algorithm",
    object: servicePool({ loadBalancing: { algorithm: "Fastest" } }),
    issues: [
      [
        "spec.loadBalancing.algorithm",
        'Unsupported value: "Fastest": supported values: "RoundRobin", "LeastRequest", "Random", "ConsistentHash"',
      ],
    ],
  },
  {
    name: "bad HTTP method",
    object: routeRule({ matches: [{ method: "get" }] }),
    issues: [
      [`${R0}.matches[0].method`, 'Unsupported value: "get": supported values: "GET", "HEAD", "POST"'],
    ],
  },
  {
    name: "bad filter type",
    object: filtered({ type: "Compress" }),
    issues: [[`${F0}.type`, 'supported values: "RequestHeaderModifier", "ResponseHeaderModifier"']],
  },
  {
    name: "bad redirect status code",
    object: filtered({ type: "RequestRedirect", requestRedirect: { statusCode: 300 } }),
    issues: [
      [
        `${F0}.requestRedirect.statusCode`,
        "Unsupported value: 300: supported values: 301, 302, 303, 307, 308",
      ],
    ],
  },
  {
    name: "bad rate-limit key type",
    object: keyedLimit({ type: "IP" }),
    issues: [[`${R0}.key.type`, 'supported values: "ClientIP", "ApiKey"']],
  },
  {
    name: "bad target kind",
    object: authz({ targetRefs: [{ kind: "HTTPRoute", name: "users" }] }),
    issues: [["spec.targetRefs[0].kind", 'supported values: "GatewayRoute"']],
  },
  {
    name: 'duration "5 seconds"',
    object: routeRule({ timeouts: { request: "5 seconds" } }),
    issues: [[`${R0}.timeouts.request`, `Invalid value: "5 seconds": ${DURATION_PATTERN}`]],
  },
  {
    name: 'duration "1d"',
    object: servicePool({ connection: { connectTimeout: "1d" } }),
    issues: [["spec.connection.connectTimeout", `Invalid value: "1d": ${DURATION_PATTERN}`]],
  },
  {
    name: 'duration "1.5s"',
    object: limits(limitRule({ limit: { requests: 1, per: "1.5s" } })),
    issues: [[`${R0}.limit.per`, DURATION_PATTERN]],
  },
  {
    name: "duration without unit",
    object: provider({ jwks: JWKS, clockSkew: "30" }),
    issues: [["spec.authentication.jwt.providers[0].clockSkew", DURATION_PATTERN]],
  },
  {
    name: "weight as a string",
    object: routeRule({ backendRefs: [{ name: "users", weight: "10" }] }),
    issues: [[`${R0}.backendRefs[0].weight`, 'Invalid value: "10": must be integer']],
  },
  {
    name: "negative weight",
    object: routeRule({ backendRefs: [{ name: "users", weight: -1 }] }),
    issues: [[`${R0}.backendRefs[0].weight`, "Invalid value: -1: must be >= 0"]],
  },
  {
    name: "port 0",
    object: pool({ service: { name: "users", port: 0 } }),
    issues: [["spec.service.port", "must be >= 1"]],
  },
  {
    name: "upper-case hostname",
    object: route({ hostnames: ["API.example.com"], rules: [{ backendRefs: BACKENDS }] }),
    issues: [["spec.hostnames[0]", "must match pattern"]],
  },
  {
    name: "host name as endpoint address",
    object: pool({ endpoints: [{ address: "users.local", port: 80 }] }),
    issues: [["spec.endpoints[0].address", "must match pattern"]],
  },
  {
    name: "IP address as tls.serverName",
    object: servicePool({ tls: { serverName: "10.0.0.1" } }),
    issues: [["spec.tls.serverName", "must match pattern"]],
  },
  {
    name: "tls without serverName",
    object: servicePool({ tls: { caCertificateRef: { name: "users-ca", key: "ca.crt" } } }),
    issues: [["spec.tls.serverName", "Required value"]],
  },
  {
    name: "empty rules",
    object: route({ rules: [] }),
    issues: [["spec.rules", "must NOT have fewer than 1 items"]],
  },
  {
    name: "bad expiresAt",
    object: key({ expiresAt: "next year" }),
    issues: [["spec.expiresAt", 'must match format "date-time"']],
  },
  {
    name: "a line break in a security header value (header injection)",
    object: filtered({
      type: "ResponseSecurityHeaders",
      responseSecurityHeaders: { frameOptions: "DENY\r\nSet-Cookie: a=b" },
    }),
    issues: [[`${F0}.responseSecurityHeaders.frameOptions`, "must match pattern"]],
  },
];

export const uniquenessInvalid: InvalidCase[] = [
  {
    name: "two endpoints with the same address and port",
    object: pool({
      endpoints: [
        { address: "10.0.0.1", port: 8080 },
        { address: "10.0.0.2", port: 8080 },
        { address: "10.0.0.1", port: 8080, weight: 5 },
      ],
    }),
    issues: [["spec.endpoints[2]", 'Duplicate value: ["10.0.0.1",8080]']],
  },
  {
    name: "two rate-limit rules with the same name",
    object: limits(limitRule(), limitRule({ key: { type: "Global" } })),
    issues: [["spec.rules[1]", 'Duplicate value: ["per-ip"]']],
  },
  {
    name: "two overrides for the same key",
    object: limits(
      limitRule({
        overrides: [
          { match: "acme", requests: 10 },
          { match: "acme", requests: 20 },
        ],
      }),
    ),
    issues: [[`${R0}.overrides[1]`, 'Duplicate value: ["acme"]']],
  },
  {
    name: "two header matches on the same header",
    object: routeRule({
      matches: [
        {
          headers: [
            { name: "x-a", value: "1" },
            { name: "x-a", value: "2", type: "RegularExpression" },
          ],
        },
      ],
    }),
    issues: [[`${R0}.matches[0].headers[1]`, 'Duplicate value: ["x-a"]']],
  },
  {
    name: "two set headers with the same name",
    object: filtered({
      type: "RequestHeaderModifier",
      requestHeaderModifier: {
        set: [
          { name: "x-a", value: "1" },
          { name: "x-a", value: "2" },
        ],
      },
    }),
    issues: [[`${F0}.requestHeaderModifier.set[1]`, 'Duplicate value: ["x-a"]']],
  },
  {
    name: "two JWT providers with the same name",
    object: authn({
      jwt: {
        providers: [
          { ...ISSUER, jwks: JWKS },
          { ...ISSUER, issuer: "https://other.example.com/", hmacSecretRef: HMAC_SECRET },
        ],
      },
    }),
    issues: [["spec.authentication.jwt.providers[1]", 'Duplicate value: ["idp"]']],
  },
  {
    name: "two claimToHeaders for the same header",
    object: provider({
      jwks: JWKS,
      claimToHeaders: [
        { claim: "sub", header: "x-user" },
        { claim: "email", header: "x-user" },
      ],
    }),
    issues: [["spec.authentication.jwt.providers[0].claimToHeaders[1]", 'Duplicate value: ["x-user"]']],
  },
  {
    name: "duplicate hostnames",
    object: route({ hostnames: ["api.example.com", "api.example.com"], rules: [{ backendRefs: BACKENDS }] }),
    issues: [["spec.hostnames[1]", 'Duplicate value: "api.example.com"']],
  },
  {
    name: "duplicate ApiKey scopes",
    object: key({ scopes: ["read", "write", "read"] }),
    issues: [["spec.scopes[2]", 'Duplicate value: "read"']],
  },
  {
    name: "duplicate retry triggers",
    object: routeRule({ retry: { retryOn: ["503", "reset", "503"] } }),
    issues: [[`${R0}.retry.retryOn[2]`, 'Duplicate value: "503"']],
  },
  {
    name: "duplicate removed headers",
    object: filtered({
      type: "ResponseHeaderModifier",
      responseHeaderModifier: { remove: ["server", "server"] },
    }),
    issues: [[`${F0}.responseHeaderModifier.remove[1]`, 'Duplicate value: "server"']],
  },
  {
    name: "duplicate roles in an authz rule",
    object: authn(
      { apiKey: API_KEY_AUTHN },
      { rules: [{ action: "Allow", principals: { roles: ["admin", "admin"] } }] },
    ),
    issues: [["spec.rules[0].principals.roles[1]", 'Duplicate value: "admin"']],
  },
];

export const uniquenessValid: { name: string; object: Obj }[] = [
  {
    name: "endpoints on the same address with different ports",
    object: pool({
      endpoints: [
        { address: "10.0.0.1", port: 8080 },
        { address: "10.0.0.1", port: 8081 },
      ],
    }),
  },
  {
    name: "endpoints on the same port with different addresses",
    object: pool({
      endpoints: [
        { address: "10.0.0.1", port: 8080 },
        { address: "10.0.0.2", port: 8080 },
      ],
    }),
  },
  {
    name: "rate-limit rules with distinct names",
    object: limits(limitRule(), limitRule({ name: "global", key: { type: "Global" } })),
  },
  {
    name: "distinct hostnames",
    object: route({ hostnames: ["a.example.com", "*.example.com"], rules: [{ backendRefs: BACKENDS }] }),
  },
  { name: "distinct scopes", object: key({ scopes: ["read", "write", "orders:read"] }) },
];
