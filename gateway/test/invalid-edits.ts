// A protected world and a table of invalid edits to it, shared by the standalone test
// (gateway/test/fail-closed.test.ts) and the real-API-server one (e2e/fail-closed.test.ts).
// /admin is protected by an API key (AuthzPolicy admin-auth, RateLimitPolicy admin-limit),
// /jwt by an HS256 JWT (AuthzPolicy jwt-auth); a catch-all route with no policy sends
// everything else to the same upstream — the route a broken one must never fall through to.
// Each edit breaks one thing, the way a typo would; none may open a protected route.

import { SignJWT } from "jose";

export const NS = "test";
export const OPS_KEY = "ops-0123456789abcdef-key";
export const HMAC_SECRET = "0123456789abcdef0123456789abcdef-hmac";
export const ISSUER = "https://issuer.test/";

/** A JWT the jwt-auth policy accepts (HS256 with the world's HMAC Secret). */
export const signedToken = () =>
  new SignJWT({ sub: "user-1" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(HMAC_SECRET));

const API = "sluice.dev/v1alpha1";
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  // biome-ignore lint/suspicious/noExplicitAny: an edit reaches into any spec path, as a typo would
  spec?: any;
  stringData?: Record<string, string>;
};
/**
 * The valid world in namespace `ns`; `endpoint` is where the upstream listens. With a
 * `hostname`, every route serves only that host (on a shared API server, a catch-all for
 * every host would answer other tests' requests).
 */
export function protectedWorld(
  endpoint: { address: string; port: number },
  ns = NS,
  hostname?: string,
): Obj[] {
  const meta = (name: string) => ({ name, namespace: ns });
  const hosts = hostname ? { hostnames: [hostname] } : {};
  return [
    { apiVersion: API, kind: "BackendPool", metadata: meta("app"), spec: { endpoints: [endpoint] } },
    {
      apiVersion: API,
      kind: "GatewayRoute",
      metadata: meta("admin"),
      spec: {
        ...hosts,
        rules: [
          {
            name: "read",
            matches: [{ path: { type: "PathPrefix", value: "/admin" }, method: "GET" }],
            backendRefs: [{ name: "app" }],
          },
          {
            name: "write",
            matches: [{ path: { type: "PathPrefix", value: "/admin" } }],
            backendRefs: [{ name: "app" }],
          },
        ],
      },
    },
    {
      apiVersion: API,
      kind: "GatewayRoute",
      metadata: meta("jwt"),
      spec: {
        ...hosts,
        rules: [
          {
            name: "api",
            matches: [
              {
                path: { type: "RegularExpression", value: "/jwt(/.*)?" },
                headers: [{ type: "RegularExpression", name: "x-client", value: ".*" }],
              },
              { path: { type: "RegularExpression", value: "/jwt(/.*)?" } },
            ],
            backendRefs: [{ name: "app", weight: 1 }],
          },
        ],
      },
    },
    {
      apiVersion: API,
      kind: "GatewayRoute",
      metadata: meta("catch-all"),
      spec: {
        ...hosts,
        rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "app" }] }],
      },
    },
    { apiVersion: "v1", kind: "Secret", metadata: meta("ops-key"), stringData: { key: OPS_KEY } },
    {
      apiVersion: API,
      kind: "ApiKey",
      metadata: meta("ops"),
      spec: { secretRef: { name: "ops-key", key: "key" }, consumer: "ops", scopes: ["admin"] },
    },
    {
      apiVersion: API,
      kind: "AuthzPolicy",
      metadata: meta("admin-auth"),
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "admin" }],
        authentication: { apiKey: { from: [{ header: "x-api-key" }] } },
        rules: [
          {
            name: "ops",
            action: "Allow",
            principals: { consumers: ["ops"], sourceCIDRs: ["127.0.0.0/8", "10.0.0.0/8"] },
            request: { paths: ["/admin/**"] },
            when: ["request.method != 'TRACE'"],
          },
        ],
        defaultAction: "Deny",
      },
    },
    { apiVersion: "v1", kind: "Secret", metadata: meta("hmac"), stringData: { secret: HMAC_SECRET } },
    {
      apiVersion: API,
      kind: "AuthzPolicy",
      metadata: meta("jwt-auth"),
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "jwt", sectionName: "api" }],
        authentication: {
          jwt: {
            providers: [{ name: "hs", issuer: ISSUER, hmacSecretRef: { name: "hmac", key: "secret" } }],
          },
        },
        rules: [{ action: "Allow", when: ["claims.sub != ''"] }],
        defaultAction: "Deny",
      },
    },
    {
      apiVersion: API,
      kind: "RateLimitPolicy",
      metadata: meta("admin-limit"),
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "admin" }],
        rules: [{ name: "per-ip", key: { type: "ClientIP" }, limit: { requests: 1000, per: "1m" } }],
      },
    },
  ];
}

export interface InvalidEdit {
  name: string;
  /** Text the error must contain: the field (or, for a refused document, the kind or apiVersion). */
  field: string;
  /** Breaks the world in place: `w` is the world by object name. */
  edit(w: Record<string, Obj>): void;
  /** What a request with the right credential gets afterwards, per protected route (default 200: the last good version serves). */
  withCredential?: { admin?: 200 | 503; jwt?: 200 | 503 };
  /** Refused before compile (the config directory keeps its last good snapshot); in a cluster, by the API server. */
  refusedAsDocument?: boolean;
}

const rule0 = (w: Record<string, Obj>, name: string) => w[name]?.spec.rules[0];

export const INVALID_EDITS: InvalidEdit[] = [
  {
    name: "CEL that does not parse",
    field: "spec.rules[0].when[0]",
    edit: (w) => (rule0(w, "admin-auth").when = ["request.method == "]),
  },
  {
    name: "CEL naming an unknown variable",
    field: "spec.rules[0].when[0]",
    edit: (w) => (rule0(w, "admin-auth").when = ["requst.method == 'GET'"]),
  },
  {
    name: "CEL typo in the JWT policy",
    field: "spec.rules[0].when[0]",
    edit: (w) => (rule0(w, "jwt-auth").when = ["claims.sub != '"]),
  },
  {
    name: "an invalid CIDR",
    field: "sourceCIDRs[1]",
    edit: (w) => (rule0(w, "admin-auth").principals.sourceCIDRs = ["127.0.0.0/8", "10.0.0.0/33"]),
  },
  {
    name: "a refused path pattern",
    field: "request.paths[0]",
    edit: (w) => (rule0(w, "admin-auth").request.paths = ["/admin/**/x"]),
  },
  {
    name: "a misspelled sectionName",
    field: "sectionName",
    edit: (w) => ((w["jwt-auth"] as Obj).spec.targetRefs[0].sectionName = "apii"),
  },
  {
    name: "an unknown action",
    field: "spec.rules[0].action",
    edit: (w) => (rule0(w, "admin-auth").action = "Alow"),
  },
  {
    name: "an unknown defaultAction",
    field: "spec.defaultAction",
    edit: (w) => ((w["admin-auth"] as Obj).spec.defaultAction = "deny"),
  },
  {
    name: "a misspelled targetRef kind",
    field: "spec.targetRefs[0].kind",
    edit: (w) => ((w["admin-auth"] as Obj).spec.targetRefs[0].kind = "GatewayRoutes"),
  },
  {
    name: "a principals field that does not exist",
    field: "principals",
    edit: (w) => (rule0(w, "admin-auth").principals = { consumer: ["ops"] }),
  },
  {
    name: "a credential source with a misspelled field",
    field: "spec.authentication.apiKey.from[0]",
    edit: (w) => ((w["admin-auth"] as Obj).spec.authentication.apiKey.from = [{ heder: "x-api-key" }]),
  },
  {
    name: "a JWT algorithm that does not exist",
    field: "algorithms",
    edit: (w) => ((w["jwt-auth"] as Obj).spec.authentication.jwt.providers[0].algorithms = ["HS265"]),
  },
  {
    name: "an inline JWKS that is not JSON",
    field: "jwks.inline",
    edit: (w) => {
      const p = (w["jwt-auth"] as Obj).spec.authentication.jwt.providers[0];
      delete p.hmacSecretRef;
      p.jwks = { inline: "{keys: [" };
    },
  },
  {
    name: "an HMAC Secret that does not exist",
    field: "hmacSecretRef",
    withCredential: { jwt: 503 },
    edit: (w) => ((w["jwt-auth"] as Obj).spec.authentication.jwt.providers[0].hmacSecretRef.name = "hmca"),
  },
  {
    name: "an HMAC Secret too short for HS256",
    field: "hmacSecretRef",
    withCredential: { jwt: 503 },
    edit: (w) => ((w.hmac as Obj).stringData = { secret: "short" }),
  },
  {
    name: "a route regex that does not compile",
    field: "path.value",
    edit: (w) => (rule0(w, "jwt").matches[1].path.value = "/jwt(/.*"),
  },
  {
    name: "a header regex that does not compile",
    field: "headers[0]",
    edit: (w) => (rule0(w, "jwt").matches[0].headers[0].value = "["),
  },
  {
    name: "an unknown path match type",
    field: "path.type",
    edit: (w) => (rule0(w, "admin").matches[0].path.type = "Prefix"),
  },
  {
    name: "a negative backend weight",
    field: "weight",
    edit: (w) => (rule0(w, "jwt").backendRefs[0].weight = -1),
  },
  { name: "an invalid method", field: "method", edit: (w) => (rule0(w, "admin").matches[0].method = "get") },
  {
    name: "a rate-limit key type typo",
    field: "key.type",
    edit: (w) => (rule0(w, "admin-limit").key.type = "ClientIp"),
  },
  {
    name: "a rate-limit period that is not a duration",
    field: "limit.per",
    edit: (w) => (rule0(w, "admin-limit").limit.per = "1 minute"),
  },
  {
    name: "a rate-limit algorithm typo",
    field: "algorithm",
    edit: (w) => (rule0(w, "admin-limit").algorithm = "TokenBuckets"),
  },
  {
    name: "a rate limit of zero requests",
    field: "limit.requests",
    edit: (w) => (rule0(w, "admin-limit").limit.requests = 0),
  },
  {
    name: "a rate-limit sectionName that does not exist",
    field: "sectionName",
    edit: (w) => ((w["admin-limit"] as Obj).spec.targetRefs[0].sectionName = "reed"),
  },
  {
    name: "an ApiKey CIDR that does not parse",
    field: "allowedCIDRs[0]",
    edit: (w) => ((w.ops as Obj).spec.allowedCIDRs = ["127.0.0.1/40"]),
  },
  {
    name: "a pool endpoint that is not an IP",
    field: "endpoints[0].address",
    edit: (w) => ((w.app as Obj).spec.endpoints[0].address = "127.0.0.256"),
  },
  {
    name: "a misspelled kind",
    field: "AuthzPolicyy",
    refusedAsDocument: true,
    edit: (w) => ((w["admin-auth"] as Obj).kind = "AuthzPolicyy"),
  },
  {
    name: "an unsupported apiVersion",
    field: "sluice.dev/v1beta1",
    refusedAsDocument: true,
    edit: (w) => ((w["jwt-auth"] as Obj).apiVersion = "sluice.dev/v1beta1"),
  },
];
