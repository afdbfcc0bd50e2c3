import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  cel,
  conditionColumn,
  HeaderName,
  type KindDefinition,
  ObjectName,
  Port,
  PositiveDuration,
  SecretKeySelector,
  StatusSchema,
  StringEnum,
  TIMER_MAX,
} from "./common.ts";

const ServiceRef = Type.Object(
  {
    name: ObjectName("Name of the Service in this namespace whose EndpointSlices provide the endpoints."),
    port: Port(
      "Service port (spec.ports[].port); traffic goes to the matching target port of each endpoint.",
    ),
  },
  { description: "Discover endpoints from a Service's EndpointSlices (ready endpoints only)." },
);

const StaticEndpoint = Type.Object(
  {
    address: Type.String({
      minLength: 2,
      maxLength: 45,
      pattern: "^[0-9a-fA-F.:]+$",
      description: "IPv4 or IPv6 address of the endpoint. Host names are not resolved, by design.",
    }),
    port: Port("TCP port of the endpoint."),
    weight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        default: 1,
        description: "Relative share of traffic this endpoint receives within the pool.",
      }),
    ),
  },
  { description: "A fixed endpoint." },
);

const ConsistentHash = Type.Object(
  {
    header: Type.Optional(HeaderName("Hash on the value of this request header.")),
    cookie: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 128, description: "Cookie name." }),
          ttl: Type.Optional(
            PositiveDuration(
              "Lifetime of the cookie the gateway sets when the client has none. Absent: a session cookie.",
              { absent: "a session cookie" },
            ),
          ),
        },
        { description: "Hash on a cookie; the gateway sets it when the request has none (sticky sessions)." },
      ),
    ),
    sourceIP: Type.Optional(
      Type.Boolean({ description: "Hash on the client IP (after trusted-proxy processing)." }),
    ),
  },
  {
    description: "What to hash for ConsistentHash. Exactly one of header, cookie or sourceIP.",
    ...cel({
      rule: "(has(self.header) ? 1 : 0) + (has(self.cookie) ? 1 : 0) + (has(self.sourceIP) && self.sourceIP ? 1 : 0) == 1",
      message: "exactly one of header, cookie or sourceIP: true must be set",
    }),
  },
);

const LoadBalancing = Type.Object(
  {
    algorithm: StringEnum(["RoundRobin", "LeastRequest", "Random", "ConsistentHash"], {
      default: "RoundRobin",
      description:
        "How an endpoint is chosen among healthy ones. RoundRobin and Random honour endpoint weights; LeastRequest picks the less busy of two random endpoints; ConsistentHash keeps a key on one endpoint.",
    }),
    consistentHash: Type.Optional(ConsistentHash),
  },
  {
    description: "Load balancing over the pool's healthy endpoints.",
    // Spelled out: the API server checks a default against the CEL rules without
    // applying the nested defaults first.
    default: { algorithm: "RoundRobin" },
    ...cel({
      rule: "self.algorithm == 'ConsistentHash' ? has(self.consistentHash) : !has(self.consistentHash)",
      message: "consistentHash must be set exactly when algorithm is ConsistentHash",
      fieldPath: ".consistentHash",
    }),
  },
);

const ActiveHealthCheck = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: "^/",
      default: "/healthz",
      description: "Path requested with GET on every endpoint.",
    }),
    interval: PositiveDuration("Time between checks of one endpoint.", { default: "5s", max: TIMER_MAX }),
    timeout: PositiveDuration("How long a check may take before it counts as failed; less than interval.", {
      default: "1s",
      max: TIMER_MAX,
    }),
    healthyThreshold: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 2,
      description: "Consecutive successes that make an unhealthy endpoint healthy.",
    }),
    unhealthyThreshold: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description: "Consecutive failures that make a healthy endpoint unhealthy.",
    }),
  },
  {
    description: "Active checks: the gateway polls every endpoint. A 2xx answer is a success.",
    ...cel({
      rule: "duration(self.timeout) < duration(self.interval)",
      message: "timeout must be shorter than interval",
      fieldPath: ".timeout",
    }),
  },
);

const PassiveHealthCheck = Type.Object(
  {
    consecutiveErrors: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 5,
      description: "Consecutive 5xx answers or connection failures that eject an endpoint.",
    }),
    baseEjectionTime: PositiveDuration(
      "How long the first ejection lasts; each further one lasts longer, up to 10 times as long.",
      // 10 × base must still fit a timer (TIMER_MAX).
      { default: "30s", max: "59h" },
    ),
    maxEjectionPercent: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 50,
      description: "The largest share of the pool's endpoints that may be ejected at once.",
    }),
  },
  { description: "Passive checks (outlier detection): eject endpoints that fail real requests." },
);

const CircuitBreaker = Type.Object(
  {
    maxConnections: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1024,
      description: "Most connections open to the whole pool.",
    }),
    maxPendingRequests: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 1024,
      description: "Most requests waiting for a connection; beyond this the gateway answers 503.",
    }),
    maxRequests: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1024,
      description: "Most requests in flight to the whole pool; beyond this the gateway answers 503.",
    }),
  },
  { description: "Limits that protect the backend from overload.", default: {} },
);

const Connection = Type.Object(
  {
    connectTimeout: PositiveDuration("How long establishing a TCP connection may take.", {
      default: "2s",
      max: TIMER_MAX,
    }),
    idleTimeout: PositiveDuration("How long an idle keep-alive connection stays open.", {
      default: "60s",
      max: TIMER_MAX,
    }),
    http2: Type.Boolean({
      default: false,
      description:
        "Speak HTTP/2 to the endpoints: in cleartext with prior knowledge (h2c), or with tls negotiated by ALPN (an endpoint that offers only HTTP/1.1 still gets HTTP/1.1).",
    }),
  },
  { description: "Connections from the gateway to the endpoints.", default: {} },
);

const UpstreamTls = Type.Object(
  {
    serverName: Type.String({
      minLength: 1,
      maxLength: 253,
      // A DNS name, lower case; the last label has a letter, so an IP address is refused.
      pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]*[a-z]([-a-z0-9]*[a-z0-9])?$",
      description:
        'The name sent as SNI and that every endpoint\'s certificate must carry, e.g. "users.shop.svc".',
    }),
    caCertificateRef: Type.Optional(
      SecretKeySelector(
        "A Secret key holding the PEM certificates of the CAs that sign the endpoints' certificates (cert-manager's ca.crt). Absent: the system's trusted CAs.",
      ),
    ),
  },
  {
    description:
      "Connect to the endpoints over TLS, verifying their certificates (there is no way to skip verification). Without it, connections are cleartext.",
  },
);

export const BackendPoolSpec = Type.Object(
  {
    service: Type.Optional(ServiceRef),
    endpoints: Type.Optional(
      Type.Array(StaticEndpoint, {
        minItems: 1,
        maxItems: 256,
        description: "Fixed endpoints, instead of service.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["address", "port"],
      }),
    ),
    loadBalancing: Type.Optional(LoadBalancing),
    healthCheck: Type.Optional(
      Type.Object(
        { active: Type.Optional(ActiveHealthCheck), passive: Type.Optional(PassiveHealthCheck) },
        { description: "How unhealthy endpoints are found and taken out of rotation." },
      ),
    ),
    circuitBreaker: Type.Optional(CircuitBreaker),
    connection: Type.Optional(Connection),
    tls: Type.Optional(UpstreamTls),
  },
  {
    description: "Where traffic goes: a set of endpoints and how requests are spread over them.",
    ...cel({
      rule: "has(self.service) != has(self.endpoints)",
      message: "exactly one of service or endpoints must be set",
    }),
  },
);
export type BackendPoolSpec = Static<typeof BackendPoolSpec>;

export const backendPool: KindDefinition<typeof BackendPoolSpec> = {
  kind: "BackendPool",
  plural: "backendpools",
  singular: "backendpool",
  shortNames: ["bp"],
  description:
    "BackendPool is a set of endpoints (from a Service or listed) with load balancing, health checks, a circuit breaker and connection settings. GatewayRoutes send traffic to it with backendRefs.",
  spec: BackendPoolSpec,
  status: StatusSchema({
    readyEndpoints: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "Endpoints in the pool as last compiled (ready ones for a Service).",
      }),
    ),
  }),
  printerColumns: [
    {
      name: "Service",
      type: "string",
      jsonPath: ".spec.service.name",
      description: "Service the endpoints come from.",
    },
    {
      name: "Endpoints",
      type: "integer",
      jsonPath: ".status.readyEndpoints",
      description: "Endpoints in the pool.",
    },
    {
      name: "Algorithm",
      type: "string",
      jsonPath: ".spec.loadBalancing.algorithm",
      description: "Load-balancing algorithm.",
      priority: 1,
    },
    conditionColumn("Accepted"),
    conditionColumn("ResolvedRefs"),
    conditionColumn("Programmed"),
    ageColumn,
  ],
};
