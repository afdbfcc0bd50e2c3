// Argo CD health checks (deploy/argocd/health.lua), run by Debian's lua5.4 against sample
// statuses of each kind; the values snippet and the docs carry the same script.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./harness/install.ts";
import { argoHealth, HEALTH_SCRIPT } from "./helm/argocd-lua.ts";

type Condition = { type: string; status: "True" | "False"; reason: string; message: string };
const ok = (type: string, message = ""): Condition => ({ type, status: "True", reason: type, message });
const bad = (type: string, reason: string, message: string): Condition => ({
  type,
  status: "False",
  reason,
  message,
});

const object = (
  kind: string,
  conditions: Condition[] | undefined,
  generation = 1,
  observed = generation,
) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind,
  metadata: { name: "x", namespace: "shop", generation },
  spec: {},
  ...(conditions
    ? { status: { conditions: conditions.map((c) => ({ ...c, observedGeneration: observed })) } }
    : {}),
});

const served = ok("Programmed", "Served by 2/2 gateway replicas.");
const pending = bad("Programmed", "Pending", "Served by 1/2 gateway replicas; replica gw-b serves v1.");
const rejected = bad(
  "Programmed",
  "Rejected",
  "Served by 0/2 gateway replicas; replica gw-a rejected snapshot v2: hash key differs.",
);

// What each kind reports when it is fine, and its typical Accepted / ResolvedRefs failures.
const KINDS: {
  kind: string;
  fine: Condition[];
  notAccepted: Condition;
  unresolved: Condition;
}[] = [
  {
    kind: "GatewayRoute",
    fine: [ok("Accepted"), ok("ResolvedRefs")],
    notAccepted: bad(
      "Accepted",
      "Invalid",
      "spec.rules[0].matches[0].path.value: invalid regular expression",
    ),
    unresolved: bad(
      "ResolvedRefs",
      "BackendNotFound",
      'spec.rules[0].backendRefs[0].name: BackendPool "x" not found',
    ),
  },
  {
    kind: "BackendPool",
    fine: [ok("Accepted"), ok("ResolvedRefs", "3 endpoints")],
    notAccepted: bad("Accepted", "Invalid", "spec.endpoints[0].address: not an IP address"),
    unresolved: bad("ResolvedRefs", "ServiceNotFound", 'spec.service.name: Service "users" not found'),
  },
  {
    kind: "RateLimitPolicy",
    fine: [ok("Accepted"), ok("ResolvedRefs")],
    notAccepted: bad("Accepted", "TargetNotFound", "spec.targetRefs: no GatewayRoute resolves"),
    unresolved: bad("ResolvedRefs", "TargetNotFound", 'spec.targetRefs[1].name: GatewayRoute "y" not found'),
  },
  {
    kind: "ApiKey",
    // Compile sets ResolvedRefs on ApiKeys too: the Secret was read, or not.
    fine: [ok("Accepted"), ok("ResolvedRefs"), ok("Active")],
    notAccepted: bad(
      "Accepted",
      "InvalidSecret",
      'spec.secretRef: the key in Secret "k" is 3 characters; at least 16 are required',
    ),
    unresolved: bad("ResolvedRefs", "SecretNotFound", 'spec.secretRef: Secret "k" not found'),
  },
  {
    kind: "AuthzPolicy",
    fine: [ok("Accepted"), ok("ResolvedRefs"), { ...ok("Conflicted"), status: "False" }],
    notAccepted: bad("Accepted", "Invalid", "spec.rules[0].when[0]: CEL syntax error"),
    unresolved: bad("ResolvedRefs", "TargetNotFound", 'spec.targetRefs[0].name: GatewayRoute "y" not found'),
  },
];

describe("Argo CD health (deploy/argocd/health.lua, lua5.4)", () => {
  describe.each(KINDS)("$kind", ({ kind, fine, notAccepted, unresolved }) => {
    it("is Progressing before the operator writes status", () => {
      expect(argoHealth(object(kind, undefined))).toEqual({
        status: "Progressing",
        message: "Waiting for the Sluice operator to report status",
      });
      expect(argoHealth({ ...object(kind, undefined), status: {} }).status).toBe("Progressing");
    });

    it("is Progressing while accepted but not yet served by every replica", () => {
      expect(argoHealth(object(kind, [...fine, pending]))).toEqual({
        status: "Progressing",
        message: `Programmed False (Pending): ${pending.message}`,
      });
      expect(argoHealth(object(kind, fine)).status).toBe("Progressing");
    });

    it("is Progressing while the status describes an older generation", () => {
      expect(argoHealth(object(kind, [...fine, served], 3, 2))).toEqual({
        status: "Progressing",
        message: "Waiting for the Sluice operator to observe generation 3",
      });
    });

    it("is Healthy when Programmed", () => {
      expect(argoHealth(object(kind, [...fine, served]))).toEqual({
        status: "Healthy",
        message: "Served by 2/2 gateway replicas.",
      });
    });

    it("is Degraded when not Accepted, naming the reason and the field", () => {
      const notServed = bad("Programmed", "Invalid", "Not accepted, so no gateway serves it; see Accepted.");
      expect(argoHealth(object(kind, [notAccepted, notServed]))).toEqual({
        status: "Degraded",
        message: `Accepted False (${notAccepted.reason}): ${notAccepted.message}`,
      });
    });

    it("is Degraded when a reference does not resolve", () => {
      const u = unresolved;
      const conditions = fine.map((c) => (c.type === "ResolvedRefs" ? u : c));
      expect(argoHealth(object(kind, [...conditions, served]))).toEqual({
        status: "Degraded",
        message: `ResolvedRefs False (${u.reason}): ${u.message}`,
      });
    });

    it("is Degraded when a gateway replica rejected the snapshot", () => {
      expect(argoHealth(object(kind, [...fine, rejected]))).toEqual({
        status: "Degraded",
        message: `Programmed False (Rejected): ${rejected.message}`,
      });
    });
  });

  it("says so when an ApiKey is disabled, and a route's conflicts", () => {
    const disabled = bad("Active", "Disabled", "spec.disabled is true: the gateways refuse this key.");
    expect(argoHealth(object("ApiKey", [ok("Accepted"), disabled, served]))).toEqual({
      status: "Healthy",
      message: "Disabled: spec.disabled is true: the gateways refuse this key.",
    });
    const conflict = {
      ...ok("Conflicted", "spec.rules[1].matches[0] is shadowed on a.example.com"),
      reason: "MatchConflict",
    };
    expect(
      argoHealth(object("GatewayRoute", [ok("Accepted"), ok("ResolvedRefs"), conflict, served])).message,
    ).toBe(`Served by 2/2 gateway replicas. Conflicted True (MatchConflict): ${conflict.message}`);
  });

  it("ships the same script for every kind in the argo-cd values snippet and in the docs", () => {
    const script = readFileSync(HEALTH_SCRIPT, "utf8");
    const kinds = readdirSync(join(ROOT, "crds")).map(
      (f) =>
        (parse(readFileSync(join(ROOT, "crds", f), "utf8")) as { spec: { names: { kind: string } } }).spec
          .names.kind,
    );
    expect(kinds).toHaveLength(6);
    const values = parse(readFileSync(join(ROOT, "deploy/argocd/argocd-values.yaml"), "utf8")) as {
      configs: { cm: Record<string, string> };
    };
    const stale = "stale: run deploy/argocd/generate-values.sh";
    expect(Object.keys(values.configs.cm).sort(), stale).toEqual(
      kinds.map((k) => `resource.customizations.health.sluice.dev_${k}`).sort(),
    );
    for (const body of Object.values(values.configs.cm)) expect(body, stale).toBe(script);
    expect(readFileSync(join(ROOT, "docs/argocd.md"), "utf8")).toContain(script);
  });
});
