// `sluice compile` in CI: exit 1 when an object is not accepted; with --strict also when an
// accepted object reports a problem (a missing Service, a shadowed match), so a pipeline can
// refuse manifests that would apply cleanly and still not work.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFiles } from "./compile-command.ts";

const POOL = `apiVersion: sluice.dev/v1alpha1
kind: BackendPool
metadata: {name: app, namespace: shop}
spec: {endpoints: [{address: 10.0.0.1, port: 80}]}
`;
const ROUTE = `apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: users, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
spec: {rules: [{matches: [{path: {value: /users}}], backendRefs: [{name: app}]}]}
`;
const WORLDS = {
  good: [POOL, ROUTE],
  // Accepted, but its Service is not among the manifests: ResolvedRefs False ServiceNotFound.
  missingService: [
    POOL,
    `apiVersion: sluice.dev/v1alpha1
kind: BackendPool
metadata: {name: from-service, namespace: shop}
spec: {service: {name: users, port: 8080}}
`,
  ],
  // Accepted, but /users is already claimed by the older route: Conflicted True.
  shadowedMatch: [
    POOL,
    ROUTE,
    `apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: newer, namespace: shop, creationTimestamp: "2026-02-01T00:00:00Z"}
spec: {rules: [{matches: [{path: {value: /users}}, {path: {value: /orders}}], backendRefs: [{name: app}]}]}
`,
  ],
  // A disabled key (Active False) is a choice, not a problem.
  disabledKey: [
    `apiVersion: sluice.dev/v1alpha1
kind: ApiKey
metadata: {name: old, namespace: shop}
spec: {secretRef: {name: old, key: key}, consumer: acme, disabled: true}
---
apiVersion: v1
kind: Secret
metadata: {name: old, namespace: shop}
stringData: {key: sk_live_0123456789abcdef}
`,
  ],
  // A route in namespace other on a pool in shop, which shop grants with a ReferenceGrant.
  granted: [
    POOL,
    `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: other-routes, namespace: shop}
spec:
  from: [{group: sluice.dev, kind: GatewayRoute, namespace: other}]
  to: [{group: sluice.dev, kind: BackendPool, name: app}]
---
apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: uses-shop, namespace: other}
spec: {hostnames: [other.example.com], rules: [{backendRefs: [{name: app, namespace: shop}]}]}
`,
  ],
  notAccepted: [
    `apiVersion: sluice.dev/v1alpha1
kind: RateLimitPolicy
metadata: {name: never-limits, namespace: shop}
spec:
  targetRefs: [{kind: GatewayRoute, name: users}]
  rules: [{name: r, key: {type: ClientIP}, limit: {requests: 10, per: 0s}}]
`,
  ],
};

function world(name: keyof typeof WORLDS): string {
  const dir = mkdtempSync(join(tmpdir(), `sluice-compile-${name}-`));
  writeFileSync(join(dir, "objects.yaml"), WORLDS[name].join("---\n"));
  return dir;
}

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = compileFiles(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("sluice compile", () => {
  it.each([
    ["good", 0, 0],
    ["missingService", 0, 1],
    ["shadowedMatch", 0, 1],
    ["disabledKey", 0, 0],
    ["notAccepted", 1, 1],
  ] as const)("%s: exit %d, with --strict %d", (name, plain, strict) => {
    const dir = world(name);
    expect(run([dir]).code).toBe(plain);
    expect(run(["--strict", dir]).code).toBe(strict);
  });

  it("reads ReferenceGrants: a granted cross-namespace pool resolves", () => {
    expect(run(["--strict", world("granted")])).toMatchObject({ code: 0, err: "" });
  });

  it("with --require-hostname-ownership, refuses a host name no HostnameOwnership covers", () => {
    const refused = run(["--require-hostname-ownership", world("good")]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("Accepted NoMatchingListenerHostname:");
  });

  it("prints the condition that fails --strict and says so", () => {
    const { out, err } = run(["--strict", world("missingService")]);
    expect(out).toContain("BackendPool shop/from-service: Accepted=True ResolvedRefs=False");
    expect(out).toContain("ResolvedRefs ServiceNotFound:");
    expect(err).toBe("--strict: 1 accepted object reports a problem");
  });

  it("names the field of an object that is not accepted", () => {
    expect(run([world("notAccepted")]).out).toContain(
      "Accepted Invalid: spec.rules[0].limit.per: Invalid value: must be longer than 0s",
    );
  });

  it("documents its exit codes in --help, and a bad flag is a usage error (exit 2)", () => {
    const help = run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(
      /exit 0: .*\n.*exit 1: .*\n(.*\n)*.*--strict.*\n(.*\n)*.*exit 2: a bad command line/,
    );
    const bad = run(["--strickt", "."]);
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--strickt'") });
  });

  it("sets the process's exit code through `sluice compile --strict`", () => {
    const sluice = join(import.meta.dirname, "sluice.ts");
    const res = spawnSync(process.execPath, [sluice, "compile", "--strict", world("missingService")], {
      encoding: "utf8",
    });
    expect({ status: res.status, stderr: res.stderr.trim() }).toEqual({
      status: 1,
      stderr: "--strict: 1 accepted object reports a problem",
    });
  });
});
