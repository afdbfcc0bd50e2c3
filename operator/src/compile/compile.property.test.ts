// Property tests for compileSnapshot: small generated "worlds" of objects (few namespaces
// and names, so references often resolve, sometimes don't, and conflicts happen) must
// compile deterministically whatever their order, never throw, and always give a
// snapshot the gateway accepts, with an Accepted condition for every sluice object.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { snapshotProblems } from "../../../gateway/src/snapshot/validate.ts";
import { validatorFor } from "../api/validate.ts";
import { compileSnapshot } from "./compile.ts";

type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: Record<string, unknown> };

const API = "sluice.dev/v1alpha1";
const HASH_KEY = "property-test-hash-key";
const RUNS = 200;
const SLUICE_KINDS = ["GatewayRoute", "BackendPool", "RateLimitPolicy", "ApiKey", "AuthzPolicy"] as const;
const NAMESPACES = ["default", "shop"];
const NAMES = ["a", "b", "c"];
const TIMESTAMPS = ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-03-01T12:00:00Z"];
const HOSTNAMES = ["api.example.com", "*.example.com", "shop.example.com", "x.api.example.com"];

const compile = (objects: unknown[]) => compileSnapshot(objects, { apiKeyHashKey: HASH_KEY });
const isSluice = (kind: unknown) => (SLUICE_KINDS as readonly unknown[]).includes(kind);
const keyOf = (o: Obj) => `${o.kind}/${(o.metadata.namespace as string) || "default"}/${o.metadata.name as string}`;

/** A constant object, copied so no two generated values share structure. */
const constant = <T>(...values: T[]) => fc.constantFrom(...values).map((v) => structuredClone(v));
const some = <T>(values: T[], minLength = 0) => fc.subarray(values, { minLength });
/** fc.record whose keys are all optional except `required` (plain objects, as YAML gives). */
const partial = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T, required: (keyof T)[] = []) =>
  fc.record(model, { requiredKeys: required as never, noNullPrototype: true }) as fc.Arbitrary<Record<string, unknown>>;

const metadata = partial(
  {
    name: fc.constantFrom(...NAMES),
    namespace: fc.constantFrom(...NAMESPACES),
    creationTimestamp: fc.constantFrom(...TIMESTAMPS),
    generation: fc.integer({ min: 1, max: 3 }),
  },
  ["name"],
);

const object = (apiVersion: string, kind: string, body: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record({ apiVersion: fc.constant(apiVersion), kind: fc.constant(kind), metadata, ...body }) as fc.Arbitrary<Obj>;

// ---- core objects -------------------------------------------------------------------

const API_KEYS = ["0123456789abcdef-key-one", "0123456789abcdef-key-two", "short-key", " padded-0123456789abcdef\n"];
const secretEntries = partial({
  key: fc.oneof(fc.constantFrom(...API_KEYS), fc.string({ minLength: 16, maxLength: 40 })),
  hmac: fc.oneof(fc.constantFrom("x".repeat(32), "y".repeat(64), "too-short"), fc.string({ minLength: 32, maxLength: 70 })),
  jwks: fc.constantFrom('{"keys":[]}', '{"keys":[{"kty":"oct","k":"AAAA"}]}', "not a jwks"),
});
const secret = object("v1", "Secret", {}).chain((s) =>
  fc.oneof(
    secretEntries.map((stringData) => ({ ...s, stringData })),
    secretEntries.map((d) => ({
      ...s,
      data: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v as string).toString("base64")])),
    })),
  ),
);

const service = object("v1", "Service", {
  spec: fc.record({
    ports: fc.uniqueArray(partial({ name: fc.constantFrom("http", "alt"), port: fc.constantFrom(80, 8080) }, ["port"]), {
      minLength: 1,
      maxLength: 2,
      selector: (p) => p.port,
    }),
  }),
});

const endpointSlice = fc
  .record({
    service: fc.constantFrom(...NAMES),
    suffix: fc.constantFrom("x", "y"),
    namespace: fc.constantFrom(...NAMESPACES),
    addressType: fc.constantFrom("IPv4", "IPv4", "IPv6", "FQDN"),
    ports: fc.array(partial({ name: fc.constantFrom("http", "alt", null), port: fc.constantFrom(9000, 9001) }, ["port"]), {
      maxLength: 2,
    }),
    endpoints: fc.array(
      partial({
        addresses: some(["10.0.0.1", "10.0.0.2", "fd00::1", "not-an-ip"]),
        conditions: partial({ ready: fc.constantFrom(true, false, null) }),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ service: svc, suffix, namespace, ...rest }) => ({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${svc}-${suffix}`, namespace, labels: { "kubernetes.io/service-name": svc } },
    ...rest,
  }));

// ---- BackendPool --------------------------------------------------------------------

const staticEndpoint = partial(
  {
    address: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }).map((i) => `127.0.0.${i}`) },
      { weight: 2, arbitrary: fc.constantFrom("::1", "fe80::1") },
      { weight: 1, arbitrary: fc.constant("1.2.3") }, // passes the schema's pattern, not an IP
    ),
    port: fc.constantFrom(8080, 8081),
    weight: fc.integer({ min: 1, max: 5 }),
  },
  ["address", "port"],
);

const loadBalancing = fc.oneof(
  partial({ algorithm: fc.constantFrom("RoundRobin", "LeastRequest", "Random") }),
  fc.record({
    algorithm: fc.constant("ConsistentHash"),
    consistentHash: fc.oneof(
      fc.record({ header: fc.constantFrom("X-User", "x-user") }),
      fc.record({ cookie: partial({ name: fc.constant("sid"), ttl: fc.constantFrom("1h", "30m") }, ["name"]) }),
      constant({ sourceIP: true }),
    ),
  }),
);

const backendPoolSpec = fc
  .record({
    target: fc.oneof(
      fc
        .uniqueArray(staticEndpoint, { minLength: 1, maxLength: 3, selector: (e) => `${e.address}|${e.port}` })
        .map((endpoints) => ({ endpoints })),
      fc
        .record({ name: fc.constantFrom(...NAMES), port: fc.constantFrom(80, 8080, 9999) })
        .map((service) => ({ service })),
    ),
    rest: partial({
      loadBalancing,
      healthCheck: partial({
        active: partial({
          path: fc.constantFrom("/healthz", "/"),
          interval: fc.constantFrom("5s", "10s"),
          timeout: fc.constantFrom("1s", "500ms"),
          healthyThreshold: fc.integer({ min: 1, max: 3 }),
          unhealthyThreshold: fc.integer({ min: 1, max: 3 }),
        }),
        passive: partial({
          consecutiveErrors: fc.integer({ min: 1, max: 10 }),
          baseEjectionTime: fc.constantFrom("30s", "1m"),
          maxEjectionPercent: fc.integer({ min: 0, max: 100 }),
        }),
      }),
      circuitBreaker: partial({
        maxConnections: fc.integer({ min: 1, max: 100 }),
        maxPendingRequests: fc.integer({ min: 0, max: 100 }),
        maxRequests: fc.integer({ min: 1, max: 100 }),
      }),
      connection: partial({
        connectTimeout: fc.constantFrom("2s", "250ms"),
        idleTimeout: fc.constantFrom("60s", "1m30s"),
        http2: fc.boolean(),
      }),
    }),
  })
  .map(({ target, rest }) => ({ ...target, ...rest }));

const backendPool = object(API, "BackendPool", { spec: backendPoolSpec });

// ---- GatewayRoute -------------------------------------------------------------------

const pathMatch = fc.oneof(
  { weight: 6, arbitrary: partial({ type: fc.constantFrom("Exact", "PathPrefix"), value: fc.constantFrom("/", "/a", "/a/b") }, ["value"]) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("RegularExpression"), value: fc.constantFrom("^/x$", "/a.*", "/[0-9]+") }) },
  { weight: 1, arbitrary: constant({ type: "RegularExpression", value: "(unclosed" }) }, // schema-valid, not a regex
);

const valueMatches = (names: string[]) =>
  fc.uniqueArray(
    partial(
      {
        type: fc.constantFrom("Exact", "RegularExpression"),
        name: fc.constantFrom(...names),
        value: fc.constantFrom("1", "2", "v[0-9]"),
      },
      ["name", "value"],
    ),
    { maxLength: 2, selector: (h) => h.name },
  );

const routeMatch = partial({
  path: pathMatch,
  method: fc.constantFrom("GET", "POST"),
  headers: valueMatches(["x-a", "X-A", "x-b"]),
  queryParams: valueMatches(["q", "Q"]),
});

const headerModifier = partial({
  set: fc.uniqueArray(fc.record({ name: fc.constantFrom("x-a", "x-b"), value: fc.constantFrom("1", "") }), {
    maxLength: 2,
    selector: (h) => h.name,
  }),
  add: fc.uniqueArray(fc.record({ name: fc.constantFrom("x-c"), value: fc.constant("2") }), {
    maxLength: 1,
    selector: (h) => h.name,
  }),
  remove: some(["x-d", "x-e"]),
});

const forwardFilters = partial({
  request: fc.record({ type: fc.constant("RequestHeaderModifier"), requestHeaderModifier: headerModifier }),
  response: fc.record({ type: fc.constant("ResponseHeaderModifier"), responseHeaderModifier: headerModifier }),
  rewrite: fc.record({
    type: fc.constant("URLRewrite"),
    urlRewrite: partial({
      hostname: fc.constantFrom("internal.example.com"),
      path: fc.oneof(
        { weight: 3, arbitrary: constant({ type: "ReplaceFullPath", replaceFullPath: "/new" }) },
        // Valid only when every match of the rule has a PathPrefix path.
        { weight: 1, arbitrary: constant({ type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" }) },
      ),
    }),
  }),
  cors: fc.record({
    type: fc.constant("CORS"),
    cors: partial(
      {
        allowOrigins: constant(["*"], ["https://a.example.com"]),
        allowMethods: some(["GET", "POST"]),
        allowHeaders: some(["x-a"]),
        allowCredentials: fc.boolean(),
        maxAge: fc.constantFrom("1h", "90s"),
      },
      ["allowOrigins"],
    ),
  }),
}).map((f) => Object.values(f));

const redirectFilters = partial(
  {
    redirect: fc.record({
      type: fc.constant("RequestRedirect"),
      requestRedirect: partial({
        scheme: fc.constantFrom("http", "https"),
        hostname: fc.constantFrom("example.com", "*.example.com"),
        port: fc.constantFrom(443, 8443),
        path: fc.constantFrom("/moved"),
        statusCode: fc.constantFrom(301, 302, 308),
      }),
    }),
    response: fc.record({ type: fc.constant("ResponseHeaderModifier"), responseHeaderModifier: headerModifier }),
  },
  ["redirect"],
).map((f) => Object.values(f));

const backendRef = partial(
  {
    name: fc.constantFrom(...NAMES),
    namespace: fc.constantFrom(...NAMESPACES),
    weight: fc.integer({ min: 0, max: 3 }),
  },
  ["name"],
);

const ruleCommon = {
  matches: fc.array(routeMatch, { maxLength: 2 }),
  timeouts: partial({ request: fc.constantFrom("10s", "1m"), backendRequest: fc.constantFrom("5s", "500ms") }),
  retry: partial({
    attempts: fc.integer({ min: 0, max: 3 }),
    on: some(["connect-failure", "reset", "502", "503", "504"]),
    backoff: partial({ base: fc.constantFrom("25ms", "100ms"), max: fc.constantFrom("250ms", "1s") }),
  }),
};

const routeRule = fc.tuple(
  fc.boolean(),
  fc.oneof(
    { weight: 4, arbitrary: partial({ ...ruleCommon, filters: forwardFilters, backendRefs: fc.array(backendRef, { minLength: 1, maxLength: 3 }) }, ["backendRefs"]) },
    { weight: 1, arbitrary: partial({ ...ruleCommon, filters: redirectFilters, backendRefs: fc.constant([]) }, ["filters"]) },
  ),
);

const gatewayRouteSpec = partial(
  {
    hostnames: fc.uniqueArray(fc.constantFrom(...HOSTNAMES), { maxLength: 2 }),
    rules: fc.array(routeRule, { minLength: 1, maxLength: 3 }),
  },
  ["rules"],
).map(({ rules, ...rest }) => ({
  ...rest,
  // Names are unique by construction; policies target "r0", "r1" (and "nope").
  rules: (rules as [boolean, Record<string, unknown>][]).map(([named, r], i) => (named ? { name: `r${i}`, ...r } : r)),
}));

const gatewayRoute = object(API, "GatewayRoute", { spec: gatewayRouteSpec });

// ---- policies -----------------------------------------------------------------------

const targetRefs = fc.array(
  partial(
    {
      group: fc.constant("sluice.dev"),
      kind: fc.constant("GatewayRoute"),
      name: fc.constantFrom(...NAMES),
      sectionName: fc.constantFrom("r0", "r1", "nope"),
    },
    ["kind", "name"],
  ),
  { minLength: 1, maxLength: 2 },
);

const limitRule = partial(
  {
    name: fc.constantFrom("per-ip", "global", "tenant"),
    key: constant(
      { type: "ClientIP" },
      { type: "Global" },
      { type: "ApiKey" },
      { type: "Consumer" },
      { type: "Tenant" },
      { type: "JWTClaim", claim: "sub" },
      { type: "Header", header: "X-Tenant" },
    ),
    algorithm: fc.constantFrom("TokenBucket", "SlidingWindow", "FixedWindow", "LeakyBucket"),
    // burst is invalid with the window algorithms: sometimes generated so.
    limit: partial(
      {
        requests: fc.integer({ min: 1, max: 100 }),
        per: fc.constantFrom("1s", "1m", "1h"),
        burst: fc.integer({ min: 0, max: 10 }),
      },
      ["requests", "per"],
    ),
    overrides: fc.uniqueArray(
      partial({ match: fc.constantFrom("t1", "t2"), requests: fc.integer({ min: 0, max: 10 }), burst: fc.nat(5) }, [
        "match",
        "requests",
      ]),
      { maxLength: 2, selector: (o) => o.match },
    ),
    blockDuration: fc.constantFrom("10s", "1m"),
  },
  ["name", "key", "limit"],
);

const rateLimitPolicy = object(API, "RateLimitPolicy", {
  spec: partial(
    {
      targetRefs,
      rules: fc.uniqueArray(limitRule, { minLength: 1, maxLength: 2, selector: (r) => r.name }),
      failureMode: fc.constantFrom("Open", "Closed"),
      responseHeaders: fc.constantFrom("Draft", "DraftAndLegacy", "None"),
    },
    ["targetRefs", "rules"],
  ),
});

const providerCommon = {
  name: fc.constantFrom("p1", "p2"),
  issuer: fc.constantFrom("https://idp.example.com/", "other"),
  audiences: some(["api", "web"]),
  clockSkew: fc.constantFrom("30s", "1m"),
  requiredClaims: some(["sub", "email"]),
  rolesClaim: fc.constantFrom("roles", "realm_access.roles"),
  from: fc.array(constant({ header: "authorization" }, { query: "token" }, { cookie: "jwt" }), { maxLength: 2 }),
  claimToHeaders: fc.uniqueArray(
    fc.record({ claim: fc.constantFrom("sub", "email"), header: fc.constantFrom("x-user", "X-Email") }),
    { maxLength: 2, selector: (c) => c.header },
  ),
};

const jwks = fc.oneof(
  fc.constantFrom('{"keys":[]}', '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}', "not json").map((inline) => ({ inline })),
  constant({ uri: "https://idp.example.com/jwks.json" }),
  fc.record({ name: fc.constantFrom(...NAMES), key: fc.constantFrom("jwks", "missing") }).map((secretRef) => ({ secretRef })),
);

const jwtProvider = fc.oneof(
  partial({ ...providerCommon, algorithms: some(["RS256", "ES256", "EdDSA"], 1), jwks }, ["name", "issuer", "jwks"]),
  partial(
    {
      ...providerCommon,
      algorithms: some(["HS256", "HS384", "HS512"], 1),
      hmacSecretRef: fc.record({ name: fc.constantFrom(...NAMES), key: fc.constantFrom("hmac", "hmac", "missing") }),
    },
    ["name", "issuer", "hmacSecretRef"],
  ),
);

const jwt = fc.record({ providers: fc.uniqueArray(jwtProvider, { minLength: 1, maxLength: 2, selector: (p) => p.name }) });
const apiKeyAuth = fc.record({
  from: fc.array(constant({ header: "x-api-key" }, { query: "api_key" }, { cookie: "key" }), { minLength: 1, maxLength: 2 }),
});

const authentication = fc.oneof(
  partial({ jwt, require: fc.constant("Any") }, ["jwt"]),
  partial({ apiKey: apiKeyAuth, require: fc.constant("Any") }, ["apiKey"]),
  partial({ jwt, apiKey: apiKeyAuth, require: fc.constantFrom("Any", "All") }, ["jwt", "apiKey"]),
);

const authzRule = partial(
  {
    name: fc.constantFrom("admins", "readers"),
    action: fc.constantFrom("Allow", "Deny"),
    principals: partial({
      roles: constant(["admin"]),
      scopes: constant(["read"]),
      consumers: constant(["app"]),
      tenants: constant(["t1"]),
      sourceCIDRs: constant(["10.0.0.0/8"], ["::1/128"], ["10.0.0.0/8"], ["bad"]),
    }),
    request: partial({
      methods: some(["GET", "POST"]),
      paths: constant(["/a/**"], ["/users/*/orders"]),
      headers: constant([{ name: "x-a", value: "1" }]),
    }),
    when: constant(["request.method == 'GET'"], ["claims.sub != ''"], ["request.method == 'GET'"], ["(("]),
  },
  ["action"],
);

const authzPolicy = object(API, "AuthzPolicy", {
  spec: partial(
    {
      targetRefs,
      authentication,
      rules: fc.array(authzRule, { maxLength: 2 }),
      defaultAction: fc.constantFrom("Allow", "Deny"),
    },
    ["targetRefs"],
  ),
});

// ---- ApiKey -------------------------------------------------------------------------

const apiKey = object(API, "ApiKey", {
  spec: partial(
    {
      secretRef: fc.record({ name: fc.constantFrom(...NAMES), key: fc.constantFrom("key", "key", "missing") }),
      consumer: fc.constantFrom("app", "partner"),
      tenant: fc.constantFrom("t1", "t2"),
      scopes: some(["read", "write"]),
      allowedCIDRs: some(["10.0.0.0/8", "192.168.1.0/24", "::1/128", "not-a-cidr"]),
      expiresAt: fc.constantFrom("2030-01-01T00:00:00Z", "2020-01-01T00:00:00+02:00", "2031-05-05T10:00:00.5Z"),
      disabled: fc.boolean(),
    },
    ["secretRef", "consumer"],
  ),
});

// ---- worlds -------------------------------------------------------------------------

const sluiceObject = fc.oneof(backendPool, gatewayRoute, rateLimitPolicy, authzPolicy, apiKey);

const worldObject: fc.Arbitrary<Obj> = fc.oneof(
  { weight: 3, arbitrary: backendPool },
  { weight: 3, arbitrary: gatewayRoute },
  { weight: 1, arbitrary: rateLimitPolicy },
  { weight: 1, arbitrary: authzPolicy },
  { weight: 2, arbitrary: apiKey },
  { weight: 2, arbitrary: secret as fc.Arbitrary<Obj> },
  { weight: 1, arbitrary: service },
  { weight: 1, arbitrary: endpointSlice as fc.Arbitrary<Obj> },
);

const world = fc.array(worldObject, { maxLength: 14 });

/** A sluice object whose spec is anything at all, named so it collides with nothing else. */
const junkSpecObject = fc.record({
  kind: fc.constantFrom(...SLUICE_KINDS),
  namespace: fc.constantFrom(...NAMESPACES),
  spec: fc.anything(),
});

/** A valid object with one spec field replaced by anything, or deleted. */
const mutatedObject = fc.tuple(sluiceObject, fc.nat(), fc.anything(), fc.boolean()).map(([obj, pick, value, remove]) => {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    if (typeof v !== "object" || v === null) return;
    for (const [k, child] of Object.entries(v)) {
      const p = [...at, Array.isArray(v) ? Number(k) : k];
      paths.push(p);
      walk(child, p);
    }
  };
  walk(obj.spec, []);
  const path = paths[pick % Math.max(paths.length, 1)];
  if (!path) return { ...obj, spec: value };
  let parent = obj.spec as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = value;
  return obj;
});

type JunkItem = { tag: "anything"; value: unknown } | { tag: "valid"; value: Obj } | { tag: "junk"; value: Obj };

const junkWorld = fc
  .array(
    fc.oneof(
      fc.anything().map((value): JunkItem => ({ tag: "anything", value })),
      worldObject.map((value): JunkItem => ({ tag: "valid", value })),
      junkSpecObject.map(
        ({ kind, namespace, spec }): JunkItem => ({ tag: "junk", value: { apiVersion: API, kind, metadata: { namespace }, spec } }),
      ),
      mutatedObject.map((value): JunkItem => ({ tag: "junk", value })),
    ),
    { maxLength: 12 },
  )
  .map((items) =>
    items.map((item, i) => {
      if (item.tag === "junk") item.value.metadata = { ...item.value.metadata, name: `junk-${i}` };
      return item;
    }),
  );

/** The validator's issues for an object (on a copy: the validator applies defaults in place). */
function issuesOf(obj: Obj) {
  return validatorFor(obj.kind)?.(structuredClone(obj)) ?? [];
}

// ---- properties ---------------------------------------------------------------------

describe("compileSnapshot properties", () => {
  it("generators produce mostly schema-valid objects of every kind", () => {
    const samples = fc.sample(sluiceObject, { numRuns: 1000, seed: 42 });
    const byKind = new Map<string, { valid: number; total: number }>();
    for (const obj of samples) {
      const n = byKind.get(obj.kind) ?? { valid: 0, total: 0 };
      n.total++;
      if (issuesOf(obj).length === 0) n.valid++;
      byKind.set(obj.kind, n);
    }
    expect([...byKind.keys()].sort()).toEqual([...SLUICE_KINDS].sort());
    for (const [kind, { valid, total }] of byKind) {
      expect(valid / total, `${kind}: ${valid}/${total} valid`).toBeGreaterThan(0.5);
    }
  });

  it("is deterministic, independent of input order, and does not mutate its input", () => {
    fc.assert(
      fc.property(
        world.chain((objects) => fc.tuple(fc.constant(objects), fc.shuffledSubarray(objects, { minLength: objects.length }))),
        ([objects, shuffled]) => {
          const before = structuredClone(objects);
          const result = JSON.stringify(compile(objects));
          expect(objects).toStrictEqual(before);
          expect(JSON.stringify(compile(shuffled))).toBe(result);
          expect(JSON.stringify(compile(structuredClone(objects)))).toBe(result);
          expect(JSON.stringify(compile(structuredClone(objects)))).toBe(result);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("never throws on schema-valid input; the snapshot is valid and every sluice object has an Accepted condition", () => {
    fc.assert(
      fc.property(world, (objects) => {
        const { snapshot, statuses } = compile(objects);
        expect(snapshotProblems(snapshot)).toEqual([]);
        const expected = [...new Set(objects.filter((o) => isSluice(o.kind)).map(keyOf))].sort();
        const actual = statuses.map((s) => `${s.kind}/${s.namespace}/${s.name}`);
        expect([...actual].sort()).toEqual(expected);
        for (const s of statuses) {
          expect(s.conditions.filter((c) => c.type === "Accepted"), `${s.kind} ${s.namespace}/${s.name}`).toHaveLength(1);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never throws on junk; invalid sluice objects are Accepted=False with reason Invalid", () => {
    fc.assert(
      fc.property(junkWorld, (items) => {
        const objects = items.map((i) => i.value);
        const { snapshot, statuses } = compile(objects);
        expect(snapshotProblems(snapshot)).toEqual([]);
        for (const item of items) {
          if (item.tag !== "junk") continue;
          const obj = item.value;
          if (issuesOf(obj).length === 0) continue;
          const status = statuses.find((s) => `${s.kind}/${s.namespace}/${s.name}` === keyOf(obj));
          const accepted = status?.conditions.find((c) => c.type === "Accepted");
          expect(accepted, keyOf(obj)).toMatchObject({ status: "False", reason: "Invalid" });
        }
      }),
      { numRuns: RUNS },
    );
  });
});
