import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  cel,
  conditionColumn,
  Duration,
  HeaderName,
  type KindDefinition,
  ObjectName,
  Port,
  PositiveDuration,
  SectionName,
  StatusSchema,
  StringEnum,
  StringList,
  TIMER_MAX,
} from "./common.ts";

// Same syntax as Gateway API's Hostname: a DNS name, optionally with one leading "*." label.
export const Hostname = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
  description:
    'A host name the route serves, lower case. "*.example.com" matches any name ending in ".example.com" (one or more labels), not "example.com" itself.',
});

const PathMatch = Type.Object(
  {
    type: StringEnum(["Exact", "PathPrefix", "RegularExpression"], {
      default: "PathPrefix",
      description:
        "Exact: the whole normalised path. PathPrefix: whole path segments, so /users matches /users and /users/1 but not /usersx. RegularExpression: an ECMAScript regular expression that must match the whole path, run in linear time: backreferences, lookahead, inline modifiers and \\p{…} are refused.",
    }),
    value: Type.String({ minLength: 1, maxLength: 1024, default: "/", description: "The path or pattern." }),
  },
  {
    description:
      "Match on the request path, after normalisation (percent-decoding, dot segments, merged slashes).",
    ...cel({
      rule: "self.type == 'RegularExpression' || self.value.startsWith('/')",
      message: "an Exact or PathPrefix value must start with '/'",
      fieldPath: ".value",
    }),
  },
);

const ValueMatch = (what: string) =>
  Type.Object(
    {
      type: StringEnum(["Exact", "RegularExpression"], {
        default: "Exact",
        description: `Exact: the ${what} equals value. RegularExpression: an ECMAScript regular expression that must match the whole value, run in linear time: backreferences, lookahead, inline modifiers and \\p{…} are refused.`,
      }),
      name:
        what === "header"
          ? HeaderName("Header name, case-insensitive.")
          : Type.String({
              minLength: 1,
              maxLength: 256,
              description: "Query parameter name, case-sensitive.",
            }),
      value: Type.String({ maxLength: 4096, description: "The value or pattern." }),
    },
    { description: `Match on a ${what}.` },
  );

const Method = StringEnum(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"], {
  description: "Match on the HTTP method.",
});

const RouteMatch = Type.Object(
  {
    path: Type.Optional(PathMatch),
    method: Type.Optional(Method),
    headers: Type.Optional(
      Type.Array(ValueMatch("header"), {
        maxItems: 16,
        description: "Every header listed must match.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      }),
    ),
    queryParams: Type.Optional(
      Type.Array(ValueMatch("query parameter"), {
        maxItems: 16,
        description: "Every query parameter listed must match.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      }),
    ),
  },
  {
    description: "Conditions a request must all meet. An empty match matches every request (path prefix /).",
  },
);

const HeaderValue = Type.Object(
  {
    name: HeaderName("Header name."),
    value: Type.String({ maxLength: 4096, description: "Header value." }),
  },
  { description: "A header and its value." },
);

const HeaderModifier = (direction: string) =>
  Type.Object(
    {
      set: Type.Optional(
        Type.Array(HeaderValue, {
          maxItems: 16,
          description: "Headers to set, replacing any existing value.",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        }),
      ),
      add: Type.Optional(
        Type.Array(HeaderValue, {
          maxItems: 16,
          description: "Headers to append to (or create).",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        }),
      ),
      remove: Type.Optional(StringList("Names of headers to remove.", HeaderName("Header name."), 16)),
    },
    { description: `Changes to the ${direction} headers.` },
  );

const URLRewrite = Type.Object(
  {
    hostname: Type.Optional(Hostname),
    path: Type.Optional(
      Type.Object(
        {
          type: StringEnum(["ReplaceFullPath", "ReplacePrefixMatch"], {
            description: "How the path is rewritten.",
          }),
          replaceFullPath: Type.Optional(
            Type.String({ maxLength: 1024, pattern: "^/", description: "The new path (ReplaceFullPath)." }),
          ),
          replacePrefixMatch: Type.Optional(
            Type.String({
              maxLength: 1024,
              pattern: "^/",
              description:
                "What the matched prefix is replaced with (ReplacePrefixMatch; PathPrefix matches only).",
            }),
          ),
        },
        {
          description: "Rewrite of the path sent upstream.",
          ...cel(
            {
              rule: "self.type == 'ReplaceFullPath' ? has(self.replaceFullPath) && !has(self.replacePrefixMatch) : true",
              message: "ReplaceFullPath needs replaceFullPath (and no replacePrefixMatch)",
            },
            {
              rule: "self.type == 'ReplacePrefixMatch' ? has(self.replacePrefixMatch) && !has(self.replaceFullPath) : true",
              message: "ReplacePrefixMatch needs replacePrefixMatch (and no replaceFullPath)",
            },
          ),
        },
      ),
    ),
  },
  { description: "Rewrite the request before it goes upstream." },
);

const RequestRedirect = Type.Object(
  {
    scheme: Type.Optional(
      StringEnum(["http", "https"], { description: "Scheme of the Location. Absent: unchanged." }),
    ),
    hostname: Type.Optional(Hostname),
    port: Type.Optional(
      Port(
        "Port of the Location. Absent: the default port of scheme when scheme is set, else the request's port.",
      ),
    ),
    path: Type.Optional(
      Type.String({
        maxLength: 1024,
        pattern: "^/",
        description: "Path of the Location. Absent: unchanged.",
      }),
    ),
    statusCode: Type.Integer({
      enum: [301, 302, 303, 307, 308],
      default: 302,
      description: "Redirect status code.",
    }),
  },
  { description: "Answer with a redirect instead of forwarding." },
);

const CORS = Type.Object(
  {
    allowOrigins: StringList(
      'Origins allowed to call, e.g. "https://shop.example.com"; "*" allows any (not with allowCredentials).',
      Type.String({ minLength: 1, maxLength: 253 }),
      64,
    ),
    allowMethods: Type.Optional(StringList("Methods allowed in CORS requests.", Method, 9)),
    allowHeaders: Type.Optional(
      StringList("Request headers allowed in CORS requests.", HeaderName("Header."), 64),
    ),
    exposeHeaders: Type.Optional(
      StringList("Response headers the browser may read.", HeaderName("Header."), 64),
    ),
    allowCredentials: Type.Optional(Type.Boolean({ description: "Allow cookies and credentials." })),
    maxAge: Type.Optional(Duration("How long a preflight answer may be cached.")),
  },
  {
    description: "Cross-origin resource sharing; preflight requests are answered by the gateway.",
    ...cel({
      rule: "!(has(self.allowCredentials) && self.allowCredentials && self.allowOrigins.exists(o, o == '*'))",
      message: "allowCredentials cannot be combined with the wildcard origin '*'",
      fieldPath: ".allowOrigins",
    }),
  },
);

const SecurityHeaderValue = (header: string) =>
  Type.Optional(
    Type.String({
      maxLength: 512,
      pattern: "^[\\x20-\\x7e]*$",
      description: `${header} on this rule's answers. Absent: the gateway's setting; empty: none.`,
    }),
  );

const ResponseSecurityHeaders = Type.Object(
  {
    strictTransportSecurity: SecurityHeaderValue("Strict-Transport-Security (sent over TLS only)"),
    contentTypeOptions: SecurityHeaderValue("X-Content-Type-Options"),
    frameOptions: SecurityHeaderValue("X-Frame-Options"),
    frameAncestors: SecurityHeaderValue("The sources of Content-Security-Policy: frame-ancestors"),
    referrerPolicy: SecurityHeaderValue("Referrer-Policy"),
  },
  {
    description:
      "Security headers on this rule's answers, proxied and the gateway's own, instead of the gateway's --security-headers values; an upstream's own value still wins.",
  },
);

const FILTER_TYPES = [
  "RequestHeaderModifier",
  "ResponseHeaderModifier",
  "URLRewrite",
  "RequestRedirect",
  "CORS",
  "ResponseSecurityHeaders",
] as const;
const FILTER_FIELD: Record<(typeof FILTER_TYPES)[number], string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  URLRewrite: "urlRewrite",
  RequestRedirect: "requestRedirect",
  CORS: "cors",
  ResponseSecurityHeaders: "responseSecurityHeaders",
};

const Filter = Type.Object(
  {
    type: StringEnum(FILTER_TYPES, {
      description: "Which filter this is; the field of the same name holds its settings.",
    }),
    requestHeaderModifier: Type.Optional(HeaderModifier("request")),
    responseHeaderModifier: Type.Optional(HeaderModifier("response")),
    urlRewrite: Type.Optional(URLRewrite),
    requestRedirect: Type.Optional(RequestRedirect),
    cors: Type.Optional(CORS),
    responseSecurityHeaders: Type.Optional(ResponseSecurityHeaders),
  },
  {
    description: "A change to the request or response, as Gateway API's HTTPRouteFilter.",
    ...cel(
      ...FILTER_TYPES.map((type) => ({
        rule: `self.type == '${type}' ? has(self.${FILTER_FIELD[type]}) : !has(self.${FILTER_FIELD[type]})`,
        message: `${FILTER_FIELD[type]} must be set exactly when type is ${type}`,
        fieldPath: `.${FILTER_FIELD[type]}`,
      })),
    ),
  },
);

const BackendRef = Type.Object(
  {
    name: ObjectName("Name of the BackendPool."),
    namespace: Type.Optional(
      ObjectName(
        "Namespace of the BackendPool; absent: the route's own. Another namespace must permit the reference with a ReferenceGrant (gateway.networking.k8s.io) there, from GatewayRoutes in the route's namespace to this BackendPool; without one the reference is refused (ResolvedRefs RefNotPermitted).",
      ),
    ),
    weight: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 1,
      description:
        "Share of the rule's requests sent to this pool, relative to the other backendRefs. 0 sends none.",
    }),
  },
  { description: "A BackendPool that receives a share of the rule's traffic." },
);

const Timeouts = Type.Object(
  {
    request: Type.Optional(
      PositiveDuration("Time for the whole request through the gateway, retries included.", {
        absent: "no time limit",
        max: TIMER_MAX,
      }),
    ),
    backendRequest: Type.Optional(
      PositiveDuration("Time for one attempt to the backend; at most request.", {
        absent: "no limit per attempt",
        max: TIMER_MAX,
      }),
    ),
  },
  {
    description: "Time limits; when exceeded the gateway answers 504.",
    ...cel({
      rule: "!(has(self.request) && has(self.backendRequest)) || duration(self.backendRequest) <= duration(self.request)",
      message: "backendRequest must not be longer than request",
      fieldPath: ".backendRequest",
    }),
  },
);

const Retry = Type.Object(
  {
    attempts: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: 1,
      description: "Retries after the first attempt.",
    }),
    retryOn: Type.Optional(
      StringList(
        "What is retried (absent: connect-failure and reset); 504 also covers an attempt that ran out of backendRequest time. Requests are retried on another endpoint, only when idempotent or when nothing was sent, and only within a retry budget.",
        StringEnum(["connect-failure", "reset", "502", "503", "504"], { description: "A retry trigger." }),
        5,
      ),
    ),
    backoff: Type.Optional(
      Type.Object(
        {
          base: PositiveDuration("First backoff; doubled on every retry, with jitter.", {
            default: "25ms",
            max: TIMER_MAX,
          }),
          max: PositiveDuration("Longest backoff.", { default: "250ms", max: TIMER_MAX }),
        },
        {
          description: "Exponential backoff between attempts.",
          ...cel({
            rule: "duration(self.base) <= duration(self.max)",
            message: "base must not be longer than max",
            fieldPath: ".base",
          }),
        },
      ),
    ),
  },
  { description: "Retries of failed attempts to another endpoint." },
);

const Rule = Type.Object(
  {
    name: Type.Optional(
      SectionName("Name of the rule, unique in the route; policies target it with sectionName."),
    ),
    matches: Type.Optional(
      Type.Array(RouteMatch, {
        maxItems: 16,
        description: "The rule applies when any match matches. Absent: every request (path prefix /).",
      }),
    ),
    filters: Type.Optional(Type.Array(Filter, { maxItems: 16, description: "Filters applied in order." })),
    backendRefs: Type.Optional(
      Type.Array(BackendRef, {
        maxItems: 16,
        description: "Pools that receive the traffic, split by weight. Required unless the rule redirects.",
      }),
    ),
    timeouts: Type.Optional(Timeouts),
    retry: Type.Optional(Retry),
  },
  {
    description: "Which requests (matches) and what happens to them (filters, backends).",
    ...cel(
      {
        rule: "has(self.filters) && self.filters.exists(f, f.type == 'RequestRedirect') ? !has(self.backendRefs) || size(self.backendRefs) == 0 : has(self.backendRefs) && size(self.backendRefs) > 0",
        message:
          "a rule needs backendRefs, unless it has a RequestRedirect filter, which cannot have backendRefs",
        fieldPath: ".backendRefs",
      },
      {
        rule: "!has(self.filters) || !(self.filters.exists(f, f.type == 'RequestRedirect') && self.filters.exists(f, f.type == 'URLRewrite'))",
        message: "RequestRedirect and URLRewrite cannot be used together",
        fieldPath: ".filters",
      },
      {
        rule: `!has(self.filters) || [${FILTER_TYPES.map((t) => `'${t}'`).join(", ")}].all(t, self.filters.filter(f, f.type == t).size() <= 1)`,
        message: "each filter type may appear at most once",
        fieldPath: ".filters",
      },
      {
        rule: "!has(self.filters) || !self.filters.exists(f, f.type == 'URLRewrite' && has(f.urlRewrite) && has(f.urlRewrite.path) && f.urlRewrite.path.type == 'ReplacePrefixMatch') || (has(self.matches) && self.matches.all(m, has(m.path) && m.path.type == 'PathPrefix'))",
        message: "ReplacePrefixMatch needs every match to have a PathPrefix path",
        fieldPath: ".filters",
      },
    ),
  },
);

export const GatewayRouteSpec = Type.Object(
  {
    hostnames: Type.Optional(
      Type.Array(Hostname, {
        maxItems: 16,
        description: "Host names (Host header) this route serves. Absent: every host.",
        "x-kubernetes-list-type": "set",
      }),
    ),
    rules: Type.Array(Rule, {
      minItems: 1,
      maxItems: 64,
      description: "Rules, each a set of matches with what happens to matching requests.",
    }),
  },
  {
    description: "Which requests this route takes and where they go.",
    ...cel({
      rule: "self.rules.all(r, !has(r.name) || self.rules.filter(s, has(s.name) && s.name == r.name).size() == 1)",
      message: "rule names must be unique within the route",
      fieldPath: ".rules",
    }),
  },
);
export type GatewayRouteSpec = Static<typeof GatewayRouteSpec>;
export type GatewayRouteRule = Static<typeof Rule>;
export type GatewayRouteMatch = Static<typeof RouteMatch>;
export type GatewayRouteFilter = Static<typeof Filter>;

export const gatewayRoute: KindDefinition<typeof GatewayRouteSpec> = {
  kind: "GatewayRoute",
  plural: "gatewayroutes",
  singular: "gatewayroute",
  shortNames: ["gwr"],
  description:
    "GatewayRoute says which requests (host names, paths, methods, headers, query) go to which BackendPools, and what filters change on the way. Modelled on the Gateway API's HTTPRoute.",
  spec: GatewayRouteSpec,
  status: StatusSchema({
    backends: Type.Optional(
      Type.String({ maxLength: 4096, description: "The BackendPools the rules refer to, comma-separated." }),
    ),
  }),
  printerColumns: [
    { name: "Hostnames", type: "string", jsonPath: ".spec.hostnames", description: "Host names served." },
    // A JSONPath over every backendRef would show only the first match, so compile
    // writes the list into status.
    {
      name: "Backends",
      type: "string",
      jsonPath: ".status.backends",
      description: "BackendPools the rules send traffic to.",
    },
    conditionColumn("Accepted"),
    conditionColumn("ResolvedRefs"),
    conditionColumn("Programmed"),
    ageColumn,
  ],
};
