// The resources and credentials of the admission targets: API-key auth alone (one key, or
// one among 10,000), a Redis rate limit alone, and the full chain (JWT ES256 with an inline
// key, an Allow rule, a Redis limit, the access log) on the same route the plain `sluice`
// target serves.
// Keys are made here with node:crypto, synchronously, so a target's command can write them.
import { createSign, generateKeyPairSync } from "node:crypto";

export const API_KEY = "bench-api-key-0123456789abcdef";
const ISSUER = "https://bench.idp/";

const es256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
const publicJwk = { ...es256.publicKey.export({ format: "jwk" }), kid: "bench", alg: "ES256", use: "sig" };

/** An ES256 token valid for a day, with the role the bench's Allow rule asks for. */
export function benchToken(): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "ES256", kid: "bench", typ: "JWT" })}.${b64({
    iss: ISSUER,
    aud: "bench",
    sub: "bench-user",
    roles: ["bench"],
    iat: now,
    exp: now + 86_400,
  })}`;
  const signature = createSign("SHA256")
    .update(input)
    .sign({ key: es256.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

const route = "{kind: GatewayRoute, name: svc-5}";

/** A limit no bench run reaches: the cost of checking it is what is measured. */
export const redisLimit = `apiVersion: sluice.dev/v1alpha1
kind: RateLimitPolicy
metadata: {name: bench-limit, namespace: bench}
spec:
  targetRefs: [${route}]
  rules:
    - name: per-client
      key: {type: ClientIP}
      algorithm: TokenBucket
      limit: {requests: 1000000000, per: 1s}
`;

export const apiKeyAuth = `apiVersion: v1
kind: Secret
metadata: {name: bench-key, namespace: bench}
stringData: {key: ${API_KEY}}
---
apiVersion: sluice.dev/v1alpha1
kind: ApiKey
metadata: {name: bench, namespace: bench}
spec: {consumer: bench, secretRef: {name: bench-key, key: key}}
---
apiVersion: sluice.dev/v1alpha1
kind: AuthzPolicy
metadata: {name: bench-keys, namespace: bench}
spec:
  targetRefs: [${route}]
  authentication: {apiKey: {from: [{header: x-api-key}]}}
  rules: [{name: consumers, action: Allow, principals: {consumers: [bench]}}]
`;

/**
 * `count` more ApiKeys, each with its own Secret and consumer, beside the bench's key of
 * `apiKeyAuth`: the 10k target's key store holds 10,000 keys, and the one the load presents
 * is one of them. Keys are distinct (the compile refuses a second ApiKey with the same
 * material) and at least 16 characters.
 */
export function moreApiKeys(count: number): string[] {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(5, "0");
    docs.push(`apiVersion: v1
kind: Secret
metadata: {name: key-${n}, namespace: bench}
stringData: {key: bench-consumer-key-${n}}
---
apiVersion: sluice.dev/v1alpha1
kind: ApiKey
metadata: {name: key-${n}, namespace: bench}
spec: {consumer: consumer-${n}, secretRef: {name: key-${n}, key: key}}
`);
  }
  return docs;
}

export const jwtAuth = `apiVersion: sluice.dev/v1alpha1
kind: AuthzPolicy
metadata: {name: bench-jwt, namespace: bench}
spec:
  targetRefs: [${route}]
  authentication:
    jwt:
      providers:
        - name: bench
          issuer: ${ISSUER}
          audiences: [bench]
          algorithms: [ES256]
          jwks: {inline: '${JSON.stringify({ keys: [publicJwk] })}'}
  rules: [{name: bench-role, action: Allow, principals: {roles: [bench]}}]
`;
