// The generated CRDs on a real kube-apiserver: they install, kubectl accepts them, the
// samples apply, `kubectl get`/`explain` are useful, and the API server's verdict on
// every test object (schema + CEL) is the same as our own validator's — the proof that
// standalone mode refuses exactly what `kubectl apply` refuses.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../core/api/common.ts";
import { kindDefinition } from "../core/api/kinds.ts";
import { validatorFor } from "../core/api/validate.ts";
import { dryRunCreate, installCrds, ROOT as root } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";

const testdata = join(root, "core/compile/testdata");

function sluiceObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter(
      (o): o is KubeObject => o?.apiVersion === "sluice.dev/v1alpha1" && kindDefinition(o.kind) !== undefined,
    );
}

let kube: KubeClient;

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube);
});

describe("CRDs on a real API server", () => {
  it("are accepted by kubectl apply --dry-run=client and served with the six kinds", () => {
    const out = kube.kubectl("apply", "--dry-run=client", "-f", join(root, "crds"));
    expect(out.trim().split("\n")).toHaveLength(6);
    const resources = kube
      .kubectl("api-resources", "--api-group=sluice.dev", "-o", "name")
      .trim()
      .split("\n")
      .sort();
    expect(resources).toEqual([
      "apikeys.sluice.dev",
      "authzpolicies.sluice.dev",
      "backendpools.sluice.dev",
      "gatewayroutes.sluice.dev",
      "hostnameownerships.sluice.dev",
      "ratelimitpolicies.sluice.dev",
    ]);
  });

  it("applies the samples and lists them under the sluice category with their printer columns", () => {
    kube.kubectl("apply", "-f", join(root, "config/samples/shop/shop.yaml"));
    kube.kubectl("apply", "-k", join(root, "config/samples"));
    const table = kube.kubectl("get", "sluice", "-n", "shop");
    expect(table).toContain("gatewayroute.sluice.dev/orders");
    expect(table).toContain("backendpool.sluice.dev/orders-canary");
    expect(table).toContain("apikey.sluice.dev/partner-acme");
    const routes = kube.kubectl("get", "gwr", "-n", "shop");
    expect(routes.split("\n")[0]).toMatch(
      /NAME\s+HOSTNAMES\s+BACKENDS\s+ACCEPTED\s+RESOLVEDREFS\s+PROGRAMMED\s+AGE/,
    );
    expect(routes).toMatch(/orders\s+\["shop.example.com"\]/);
    const pools = kube.kubectl("get", "bp", "-n", "shop", "catalog");
    expect(pools).toMatch(/catalog\s+catalog/);
    for (const kind of ["bp", "rlp", "ak", "azp"])
      expect(kube.kubectl("get", kind, "-n", "shop").split("\n")[0]).toMatch(
        /ACCEPTED\s+RESOLVEDREFS\s+(ACTIVE\s+)?PROGRAMMED/,
      );
  });

  it("shows a pool whose Service is missing as ResolvedRefs False in kubectl get", async () => {
    const path = "/apis/sluice.dev/v1alpha1/namespaces/shop/backendpools";
    const pool = {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: { name: "no-service", namespace: "shop" },
      spec: { service: { name: "missing", port: 80 } },
    };
    const created = await kube.send("POST", path, pool);
    expect(created.status).toBe(201);
    // The conditions the operator writes for it (core/compile/backend-pools.ts).
    const at = "2026-01-01T00:00:00Z";
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastTransitionTime: at,
    });
    const res = await kube.send("PUT", `${path}/no-service/status`, {
      ...created.body,
      status: {
        conditions: [
          condition("Accepted", "True", "Accepted"),
          condition("ResolvedRefs", "False", "ServiceNotFound"),
          condition("Programmed", "True", "Programmed"),
        ],
      },
    });
    expect(res.status).toBe(200);
    const row = kube.kubectl("get", "bp", "-n", "shop", "no-service", "--no-headers");
    expect(row).toMatch(/^no-service\s+missing\s+(\S+\s+)?True\s+False\s+True\s/);
  });

  it("installs through kustomize too: config/default and config/samples", async () => {
    // config/default is the whole install: the CRDs, RBAC, the operator and the gateways.
    // A server-side dry run does not keep the Namespace it would create, so the namespaced
    // objects need it to exist already (a real apply creates it first).
    await installCrds(kube, ["sluice-system"]);
    const all = kube.kubectl("apply", "--dry-run=server", "-k", join(root, "config/default"));
    for (const plural of ["gatewayroutes", "backendpools", "ratelimitpolicies", "apikeys", "authzpolicies"])
      expect(all).toContain(`customresourcedefinition.apiextensions.k8s.io/${plural}.sluice.dev`);
    expect(all).toContain("deployment.apps/sluice-operator");
    expect(all).toContain("deployment.apps/sluice-gateway");
    expect(all).toContain("clusterrole.rbac.authorization.k8s.io/sluice-operator");
    const samples = kube.kubectl("apply", "--dry-run=server", "-k", join(root, "config/samples"));
    expect(samples).toContain("gatewayroute.sluice.dev/users");
  });

  it("documents fields for kubectl explain", () => {
    const out = kube.kubectl("explain", "gatewayroute.spec.rules.backendRefs.weight");
    expect(out).toContain("Share of the rule's requests sent to this pool");
    const pool = kube.kubectl("explain", "backendpool.spec.healthCheck.active.timeout");
    expect(pool).toContain("less than interval");
  });

  it("applies schema defaults on the server the same way our validator does", async () => {
    const pool = {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: { name: "defaults", namespace: "shop" },
      spec: { endpoints: [{ address: "10.0.0.1", port: 80 }] },
    };
    const res = await kube.send(
      "POST",
      "/apis/sluice.dev/v1alpha1/namespaces/shop/backendpools?dryRun=All",
      pool,
    );
    expect(res.status).toBe(201);
    const ours = structuredClone(pool);
    expect(validatorFor("BackendPool")?.(ours)).toEqual([]);
    expect((res.body as { spec: unknown }).spec).toEqual(ours.spec);
  });

  const files = [
    ...readdirSync(testdata)
      .filter((f) => f.endsWith(".in.yaml"))
      .map((f) => join(testdata, f)),
    ...readdirSync(join(root, "config/samples"))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(root, "config/samples", f)),
  ];
  const cases = files.flatMap((file) =>
    sluiceObjects(file).map((obj) => ({
      label: `${file.split("/").pop()}: ${obj.kind} ${obj.metadata.name}`,
      obj,
    })),
  );

  it("has objects to compare", () => {
    expect(cases.length).toBeGreaterThan(60);
  });

  // The namespaces the golden cases use (tenancy and budget cases name their own): a dry-run
  // create in a namespace that does not exist is refused for that, not for the object.
  beforeAll(async () => {
    const namespaces = new Set(cases.map(({ obj }) => obj.metadata.namespace ?? "default"));
    await installCrds(kube, [...namespaces]);
  });

  it.each(cases)("server and validator agree on $label", async ({ obj }) => {
    const def = kindDefinition(obj.kind);
    if (!def) throw new Error(`no kind ${obj.kind}`);
    const namespace = obj.metadata.namespace ?? "default";
    // A name of its own, so it never meets the applied samples ("already exists").
    const body = { ...structuredClone(obj), metadata: { name: `parity-${obj.metadata.name}`, namespace } };
    const res = await dryRunCreate(kube, def.plural, body);
    const issues = validatorFor(obj.kind)?.(structuredClone(body)) ?? [];
    const serverAccepted = res.status === 201;
    const serverMessage = String(res.body.message ?? "");
    expect({ serverAccepted, serverMessage: serverAccepted ? "" : serverMessage }).toEqual({
      serverAccepted: issues.length === 0,
      serverMessage: serverAccepted ? "" : expect.stringContaining(issues[0]?.path.split("[")[0] ?? "spec"),
    });
  });
});
