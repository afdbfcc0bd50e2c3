import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  cel,
  conditionColumn,
  Duration,
  HeaderName,
  type KindDefinition,
  PolicyStatusSchema,
  SecretKeySelector,
  SectionName,
  StringEnum,
  StringList,
  TargetRefs,
  targetsColumn,
} from "./common.ts";

const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
const HMAC = ["HS256", "HS384", "HS512"] as const;

// Where a credential is read from; exactly one of the three.
const CredentialSource = (what: string) =>
  Type.Object(
    {
      header: Type.Optional(HeaderName(`Header that carries the ${what}.`)),
      query: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 128,
          description: `Query parameter that carries the ${what}.`,
        }),
      ),
      cookie: Type.Optional(
        Type.String({ minLength: 1, maxLength: 128, description: `Cookie that carries the ${what}.` }),
      ),
    },
    {
      description: `A place the ${what} is read from; exactly one of header, query or cookie.`,
      ...cel({
        rule: "(has(self.header) ? 1 : 0) + (has(self.query) ? 1 : 0) + (has(self.cookie) ? 1 : 0) == 1",
        message: "exactly one of header, query or cookie must be set",
      }),
    },
  );

const Jwks = Type.Object(
  {
    uri: Type.Optional(
      Type.String({
        maxLength: 2048,
        pattern: "^https?://",
        description: "URL of the identity provider's JWKS.",
      }),
    ),
    inline: Type.Optional(
      Type.String({ maxLength: 65536, description: "A JWKS document (JSON) given inline." }),
    ),
    secretRef: Type.Optional(SecretKeySelector("A Secret key holding a JWKS document (JSON).")),
  },
  {
    description: "Public keys that verify token signatures; exactly one of uri, inline or secretRef.",
    ...cel({
      rule: "(has(self.uri) ? 1 : 0) + (has(self.inline) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) == 1",
      message: "exactly one of uri, inline or secretRef must be set",
    }),
  },
);

const JwtProvider = Type.Object(
  {
    name: SectionName("Name of the provider, unique in the policy."),
    issuer: Type.String({ minLength: 1, maxLength: 2048, description: "Required value of the iss claim." }),
    audiences: Type.Optional(
      StringList(
        "The aud claim must contain one of these. Absent: aud is not checked.",
        Type.String({ maxLength: 2048 }),
        16,
      ),
    ),
    algorithms: Type.Optional(
      StringList(
        'Signature algorithms accepted. Absent: HS256 for hmacSecretRef, the asymmetric algorithms otherwise. "none" is never accepted, and HMAC algorithms never with public keys.',
        StringEnum([...ASYMMETRIC, ...HMAC], { description: "A JWS algorithm." }),
        13,
      ),
    ),
    jwks: Type.Optional(Jwks),
    hmacSecretRef: Type.Optional(SecretKeySelector("A Secret key holding the HS256/384/512 shared secret.")),
    clockSkew: Duration("Tolerance when checking exp, nbf and iat.", { default: "30s" }),
    requiredClaims: Type.Optional(
      StringList("Claims that must be present.", Type.String({ minLength: 1, maxLength: 256 }), 32),
    ),
    rolesClaim: Type.String({
      minLength: 1,
      maxLength: 256,
      default: "roles",
      description: "Claim holding the roles, dots for nesting (e.g. realm_access.roles).",
    }),
    from: Type.Optional(
      Type.Array(CredentialSource("token"), {
        maxItems: 4,
        description:
          "Where the token is read from, in order. Absent: the Authorization header with the Bearer scheme.",
      }),
    ),
    claimToHeaders: Type.Optional(
      Type.Array(
        Type.Object(
          {
            claim: Type.String({
              minLength: 1,
              maxLength: 256,
              description: "Claim name (dots for nesting).",
            }),
            header: HeaderName(
              "Header set on the upstream request; any copy sent by the client is removed first.",
            ),
          },
          { description: "Copy a claim into a request header." },
        ),
        {
          maxItems: 16,
          description: "Claims passed upstream as headers.",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["header"],
        },
      ),
    ),
  },
  {
    description: "An identity provider whose JWTs are accepted.",
    ...cel(
      {
        rule: "has(self.jwks) != has(self.hmacSecretRef)",
        message: "exactly one of jwks or hmacSecretRef must be set",
      },
      {
        rule: "!has(self.algorithms) || (has(self.hmacSecretRef) ? self.algorithms.all(a, a.startsWith('HS')) : self.algorithms.all(a, !a.startsWith('HS')))",
        message:
          "HMAC algorithms (HS*) go with hmacSecretRef only, and hmacSecretRef with HMAC algorithms only",
        fieldPath: ".algorithms",
      },
    ),
  },
);

const Authentication = Type.Object(
  {
    jwt: Type.Optional(
      Type.Object(
        {
          providers: Type.Array(JwtProvider, {
            minItems: 1,
            maxItems: 8,
            description:
              "Accepted identity providers; a token is checked against the one whose issuer it names.",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
          }),
        },
        { description: "Accept JSON Web Tokens." },
      ),
    ),
    apiKey: Type.Optional(
      Type.Object(
        {
          from: Type.Array(CredentialSource("API key"), {
            minItems: 1,
            maxItems: 4,
            description: "Where the key is read from, in order.",
          }),
        },
        { description: "Accept API keys (ApiKey objects in this namespace)." },
      ),
    ),
    require: StringEnum(["Any", "All"], {
      default: "Any",
      description:
        "Any: one valid credential of the configured kinds is enough. All: a JWT and an API key are both required.",
    }),
  },
  {
    description: "How callers prove who they are. A request without a valid credential gets 401.",
    ...cel(
      { rule: "has(self.jwt) || has(self.apiKey)", message: "set jwt, apiKey or both" },
      {
        rule: "self.require != 'All' || (has(self.jwt) && has(self.apiKey))",
        message: "require: All needs both jwt and apiKey",
        fieldPath: ".require",
      },
    ),
  },
);

const Principals = Type.Object(
  {
    roles: Type.Optional(
      StringList("Any of these roles (from the provider's rolesClaim).", Type.String({ maxLength: 256 }), 32),
    ),
    scopes: Type.Optional(
      StringList(
        "Any of these scopes (JWT scope/scp, or the ApiKey's scopes).",
        Type.String({ maxLength: 256 }),
        32,
      ),
    ),
    consumers: Type.Optional(
      StringList("Any of these ApiKey consumers.", Type.String({ maxLength: 253 }), 64),
    ),
    tenants: Type.Optional(StringList("Any of these tenants.", Type.String({ maxLength: 253 }), 64)),
    sourceCIDRs: Type.Optional(
      StringList("Client address in any of these ranges.", Type.String({ minLength: 2, maxLength: 49 }), 64),
    ),
  },
  { description: "Who the rule is about; every field given must match (any value within a field)." },
);

const RequestMatch = Type.Object(
  {
    methods: Type.Optional(
      StringList(
        "Any of these methods.",
        StringEnum(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"], {
          description: "An HTTP method.",
        }),
        9,
      ),
    ),
    paths: Type.Optional(
      StringList(
        'Any of these paths; "*" matches one segment, a trailing "/**" any rest, e.g. /users/*/orders/**.',
        Type.String({ minLength: 1, maxLength: 1024, pattern: "^/" }),
        32,
      ),
    ),
    headers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: HeaderName("Header name."),
            value: Type.String({ maxLength: 4096, description: "Exact value." }),
          },
          { description: "A header that must have this value." },
        ),
        {
          maxItems: 16,
          description: "All of these headers.",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        },
      ),
    ),
  },
  { description: "Which requests the rule is about; every field given must match." },
);

const AuthzRule = Type.Object(
  {
    name: Type.Optional(SectionName("Name of the rule, shown in logs and metrics.")),
    action: StringEnum(["Allow", "Deny"], { description: "What happens to a request the rule matches." }),
    principals: Type.Optional(Principals),
    request: Type.Optional(RequestMatch),
    when: Type.Optional(
      StringList(
        "CEL conditions that must all be true, over claims, request.headers, request.method, request.path, request.ip and request.time.",
        Type.String({ minLength: 1, maxLength: 2048 }),
        16,
      ),
    ),
  },
  { description: "An RBAC/ABAC rule. Deny rules are evaluated first, then Allow rules, else defaultAction." },
);

export const AuthzPolicySpec = Type.Object(
  {
    targetRefs: TargetRefs,
    authentication: Type.Optional(Authentication),
    rules: Type.Optional(Type.Array(AuthzRule, { maxItems: 64, description: "Authorization rules." })),
    defaultAction: StringEnum(["Allow", "Deny"], {
      default: "Deny",
      description: "What happens when no rule matches.",
    }),
  },
  { description: "Authentication and authorization for the targeted routes." },
);
export type AuthzPolicySpec = Static<typeof AuthzPolicySpec>;
export const JWT_ASYMMETRIC_ALGORITHMS = ASYMMETRIC;
export const JWT_HMAC_ALGORITHMS = HMAC;

export const authzPolicy: KindDefinition<typeof AuthzPolicySpec> = {
  kind: "AuthzPolicy",
  plural: "authzpolicies",
  singular: "authzpolicy",
  shortNames: ["azp"],
  description:
    "AuthzPolicy says who may call the targeted GatewayRoutes: how callers authenticate (JWT, API key) and which rules (roles, scopes, consumers, addresses, CEL conditions) allow or deny them.",
  spec: AuthzPolicySpec,
  status: PolicyStatusSchema(),
  printerColumns: [
    targetsColumn,
    {
      name: "Default",
      type: "string",
      jsonPath: ".spec.defaultAction",
      description: "Action when no rule matches.",
    },
    conditionColumn("Accepted"),
    conditionColumn("ResolvedRefs"),
    conditionColumn("Programmed"),
    ageColumn,
  ],
};
