// Table-driven tests of validatorFor: every CEL rule of the kinds with an object it
// accepts and one it refuses (exact kubectl path, the rule's message), plus schema errors,
// list-map/set uniqueness, defaulting, and the sample manifests in config/samples.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  API_VERSION,
  celInvalid,
  celValid,
  filter,
  filtered,
  type InvalidCase,
  JWKS,
  key,
  limitRule,
  limits,
  type Obj,
  pool,
  provider,
  R0,
  routeRule,
  schemaInvalid,
  servicePool,
  uniquenessInvalid,
  uniquenessValid,
} from "../../test-support/validation-cases.ts";
import type { CelRule } from "./common.ts";
import { openApiSchema } from "./crd.ts";
import { KINDS } from "./kinds.ts";
import { type ValidationIssue, validatorFor } from "./validate.ts";

/** Validates a deep copy (validation applies defaults in place) and returns the issues and the copy. */
function check(fixture: Obj): { issues: ValidationIssue[]; result: Obj } {
  const result = structuredClone(fixture);
  const validate = validatorFor(String(result.kind));
  if (!validate) throw new Error(`no validator for ${String(result.kind)}`);
  return { issues: validate(result), result };
}

function expectIssues(got: ValidationIssue[], { issues }: InvalidCase) {
  const expected = issues.map(([path, message]) => ({ path, message: expect.stringContaining(message) }));
  expect(got).toHaveLength(expected.length);
  expect(got).toEqual(expect.arrayContaining(expected));
}

/** The CEL rules of every kind, found by walking the CRD schemas. */
function celRules(): CelRule[] {
  const rules: CelRule[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const own = (node as Record<string, unknown>)["x-kubernetes-validations"];
      if (Array.isArray(own)) rules.push(...(own as CelRule[]));
      for (const [k, v] of Object.entries(node)) if (k !== "x-kubernetes-validations") walk(v);
    }
  };
  for (const def of KINDS) walk(openApiSchema(def));
  return rules;
}

describe("validatorFor", () => {
  it("has a validator for each of the six kinds and none for others", () => {
    expect(KINDS.map((k) => typeof validatorFor(k.kind))).toEqual(Array(6).fill("function"));
    expect(validatorFor("Service")).toBeUndefined();
    expect(validatorFor("HTTPRoute")).toBeUndefined();
  });
});

describe("CEL rules", () => {
  it("every rule in the schemas has a valid and an invalid case", () => {
    const rules = celRules();
    expect(rules.length).toBeGreaterThanOrEqual(29);
    const accepted = new Set(celValid.map((c) => c.rule));
    const refused = new Set(celInvalid.flatMap((c) => c.issues.map(([, message]) => message)));
    const untested = rules
      .filter((r) => !accepted.has(r.message) || !refused.has(r.message))
      .map((r) => `${r.message} (${r.rule})`);
    expect(untested).toEqual([]);
    // …and no case refers to a rule that is not in the schemas (a stale message).
    const messages = new Set(rules.map((r) => r.message));
    expect([...accepted].filter((m) => !messages.has(m))).toEqual([]);
    expect([...refused].filter((m) => !messages.has(m))).toEqual([]);
  });

  it.each(celValid)("accepts: $name", ({ object }) => {
    expect(check(object).issues).toEqual([]);
  });

  it.each(celInvalid)("refuses: $name", (c) => {
    const { issues } = check(c.object);
    expectIssues(issues, c);
    for (const issue of issues) expect(issue.message).toMatch(/^Invalid value: /);
  });
});

describe("schema", () => {
  it.each(schemaInvalid)("refuses: $name", (c) => {
    expectIssues(check(c.object).issues, c);
  });

  it("reports schema errors without evaluating CEL rules", () => {
    // Both service and endpoints (a CEL error) plus an unknown field: only the schema error is reported.
    const { issues } = check(servicePool({ endpoints: [{ address: "10.0.0.1", port: 80 }], extra: true }));
    expect(issues).toEqual([{ path: "spec.extra", message: "unknown field" }]);
  });

  it("reports every schema error at once", () => {
    const { issues } = check(routeRule({ backendRefs: [{ weight: -1, port: 1 }] }));
    expect(issues).toHaveLength(3);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: `${R0}.backendRefs[0].name`, message: "Required value" },
        { path: `${R0}.backendRefs[0].port`, message: "unknown field" },
        { path: `${R0}.backendRefs[0].weight`, message: expect.stringContaining("must be >= 0") },
      ]),
    );
  });

  it("ignores status (the operator's to write)", () => {
    const object = { ...servicePool(), status: { readyEndpoints: 3, anything: { goes: true } } };
    expect(check(object).issues).toEqual([]);
  });
});

describe("list uniqueness", () => {
  it.each(uniquenessInvalid)("refuses: $name", (c) => {
    expectIssues(check(c.object).issues, c);
  });

  it.each(uniquenessValid)("accepts: $name", ({ object }) => {
    expect(check(object).issues).toEqual([]);
  });
});

describe("defaults", () => {
  const cases: { name: string; object: Obj; spec: Obj }[] = [
    {
      name: "BackendPool: load balancing, circuit breaker, connection and endpoint weight",
      object: pool({ endpoints: [{ address: "10.0.0.1", port: 8080 }] }),
      spec: {
        endpoints: [{ address: "10.0.0.1", port: 8080, weight: 1 }],
        loadBalancing: { algorithm: "RoundRobin" },
        circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 },
        connection: { connectTimeout: "2s", idleTimeout: "60s", http2: false },
      },
    },
    {
      name: "BackendPool: health checks",
      object: servicePool({ healthCheck: { active: {}, passive: {} } }),
      spec: {
        healthCheck: {
          active: {
            path: "/healthz",
            interval: "5s",
            timeout: "1s",
            healthyThreshold: 2,
            unhealthyThreshold: 3,
          },
          passive: { consecutiveErrors: 5, baseEjectionTime: "30s", maxEjectionPercent: 50 },
        },
      },
    },
    {
      name: "BackendPool: explicit values are kept",
      object: servicePool({ loadBalancing: { algorithm: "Random" }, circuitBreaker: { maxConnections: 10 } }),
      spec: {
        loadBalancing: { algorithm: "Random" },
        circuitBreaker: { maxConnections: 10, maxPendingRequests: 1024, maxRequests: 1024 },
      },
    },
    {
      name: "GatewayRoute: backendRef weight, path match, header match, retry",
      object: routeRule({
        backendRefs: [{ name: "a" }, { name: "b", weight: 0 }],
        matches: [{ path: {}, headers: [{ name: "x-a", value: "1" }] }],
        retry: { backoff: {} },
      }),
      spec: {
        rules: [
          {
            backendRefs: [
              { name: "a", weight: 1 },
              { name: "b", weight: 0 },
            ],
            matches: [
              {
                path: { type: "PathPrefix", value: "/" },
                headers: [{ type: "Exact", name: "x-a", value: "1" }],
              },
            ],
            retry: { attempts: 1, backoff: { base: "25ms", max: "250ms" } },
          },
        ],
      },
    },
    {
      name: "GatewayRoute: redirect status code",
      object: filtered(filter("RequestRedirect")),
      spec: {
        rules: [
          { filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 302 } }] },
        ],
      },
    },
    {
      name: "RateLimitPolicy: algorithm, failure mode, headers, target group",
      object: limits(limitRule()),
      spec: {
        targetRefs: [{ group: "sluice.dev", kind: "GatewayRoute", name: "users" }],
        rules: [{ algorithm: "TokenBucket" }],
        failureMode: "Open",
        responseHeaders: "Draft",
      },
    },
    {
      name: "AuthzPolicy: default action, require, clock skew, roles claim",
      object: provider({ jwks: JWKS }),
      spec: {
        defaultAction: "Deny",
        authentication: { require: "Any", jwt: { providers: [{ clockSkew: "30s", rolesClaim: "roles" }] } },
      },
    },
    { name: "ApiKey: disabled", object: key(), spec: { disabled: false } },
  ];

  it.each(cases)("$name", ({ object, spec }) => {
    const { issues, result } = check(object);
    expect(issues).toEqual([]);
    expect(result.spec).toMatchObject(spec);
  });

  it("does not add optional fields without a default", () => {
    const { result } = check(routeRule({}));
    expect(result.spec).toEqual({ rules: [{ backendRefs: [{ name: "users", weight: 1 }] }] });
  });

  it("applies defaults in place", () => {
    const object = structuredClone(routeRule({}));
    expect(validatorFor("GatewayRoute")?.(object)).toEqual([]);
    expect(object).toMatchObject({ spec: { rules: [{ backendRefs: [{ weight: 1 }] }] } });
  });
});

describe("samples", () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
  const dir = join(root, "config/samples");
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const samples = files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc, i) => ({
      file: relative(root, join(dir, file)),
      index: i,
      errors: doc.errors.map((e) => e.message),
      object: doc.toJS() as Obj | null,
    })),
  );
  // Every object of the sluice.dev group (other kinds, like Secrets and Namespaces, are skipped).
  const sluice = samples.flatMap(({ file, index, object }) =>
    object && String(object.apiVersion).startsWith("sluice.dev/")
      ? [
          {
            object,
            label: `${file}#${index} ${String(object.kind)}/${String((object.metadata as Obj)?.name)}`,
          },
        ]
      : [],
  );

  it("parses and finds sluice objects of every kind", () => {
    expect(samples.flatMap((s) => s.errors)).toEqual([]);
    expect(sluice.length).toBeGreaterThanOrEqual(13);
    expect(new Set(sluice.map((s) => s.object.kind))).toEqual(new Set(KINDS.map((k) => k.kind)));
  });

  it.each(sluice)("$label is valid", ({ object }) => {
    expect(object.apiVersion).toBe(API_VERSION);
    expect(check(object).issues).toEqual([]);
  });
});
