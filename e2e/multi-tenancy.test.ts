// Tenants on one gateway (issue 18 §3), on the real API server with the operator and a
// gateway as their ServiceAccounts: a route in namespace C that claims a path under the host
// name a HostnameOwnership gives namespace B is refused, with the reason in kubectl; B keeps
// the path. A backendRef to B's pool from C is refused until B installs a ReferenceGrant —
// and the operator publishes all along without the Gateway API's ReferenceGrant CRD, which
// this test installs only later, while the operator runs.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { installCrds, ROOT } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { type GatewayProcess, get, SluiceProcesses } from "./harness/sluice-processes.ts";

const B = "e2e-mt-b";
const C = "e2e-mt-c";
const SYSTEM = "sluice-system";
const SHARED = "shared.e2e-mt.example.com";
const C_HOST = "c.e2e-mt.example.com";
const GRANT_CRD = "referencegrants.gateway.networking.k8s.io";
const procs = new SluiceProcesses();
const until = procs.until.bind(procs);
let kube: KubeClient;
let gateway: GatewayProcess;
const upstreams: Server[] = [];

/** An upstream that says which tenant it belongs to. */
async function upstream(tenant: string): Promise<number> {
  const server = createServer((req, res) => res.end(`${tenant} saw ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  upstreams.push(server);
  return (server.address() as AddressInfo).port;
}

const sluice = (kind: string, namespace: string, name: string, spec: unknown) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind,
  metadata: { name, namespace },
  spec,
});
const route = (
  namespace: string,
  name: string,
  host: string,
  path: string,
  backend: Record<string, string>,
) =>
  sluice("GatewayRoute", namespace, name, {
    hostnames: [host],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: path } }], backendRefs: [backend] }],
  });

const condition = (namespace: string, name: string, type: string, field: "status" | "reason" | "message") =>
  kube.kubectl(
    "get",
    "gwr",
    name,
    "-n",
    namespace,
    "-o",
    `jsonpath={.status.conditions[?(@.type=="${type}")].${field}}`,
  );

const grant = {
  apiVersion: "gateway.networking.k8s.io/v1beta1",
  kind: "ReferenceGrant",
  metadata: { name: "c-routes-to-app", namespace: B },
  spec: {
    from: [{ group: "sluice.dev", kind: "GatewayRoute", namespace: C }],
    to: [{ group: "sluice.dev", kind: "BackendPool", name: "app" }],
  },
};

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [B, C, SYSTEM]);
  // The Gateway API's CRD is absent at first, as in most clusters.
  kube.kubectl("delete", "crd", GRANT_CRD, "--ignore-not-found", "--wait=true");
  const [bPort, cPort] = [await upstream("team-b"), await upstream("team-c")];
  kube.apply([
    sluice("BackendPool", B, "app", { endpoints: [{ address: "127.0.0.1", port: bPort }] }),
    sluice("BackendPool", C, "login", { endpoints: [{ address: "127.0.0.1", port: cPort }] }),
  ]);
  await procs.operator(
    "operator",
    serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs),
    SYSTEM,
  );
  gateway = await procs.gateway(
    "gateway",
    serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs),
    `${SYSTEM}/sluice-snapshot`,
  );
});

afterAll(async () => {
  await procs.stopAll();
  for (const s of upstreams) await new Promise<void>((resolve) => s.close(() => resolve()));
  // Other test files share the API server: leave no listener or grant behind.
  kube.kubectl("delete", "hostnameownership", "tenants", "-n", SYSTEM, "--ignore-not-found");
  for (const [ns, kinds] of [
    [B, "gatewayroutes,backendpools"],
    [C, "gatewayroutes,backendpools"],
  ] as const)
    kube.kubectl("delete", kinds, "--all", "-n", ns, "--ignore-not-found");
  kube.kubectl("delete", "crd", GRANT_CRD, "--ignore-not-found");
});

describe("tenants on one gateway", () => {
  it("refuses a route in namespace C under the host name namespace B owns, and B keeps the path", async () => {
    kube.apply([
      sluice("HostnameOwnership", SYSTEM, "tenants", {
        listeners: [
          {
            name: "shared",
            hostname: SHARED,
            allowedRoutes: {
              namespaces: {
                from: "Selector",
                selector: {
                  matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [B] }],
                },
              },
            },
          },
        ],
      }),
      route(B, "app", SHARED, "/app", { name: "app" }),
      route(C, "login", SHARED, "/app/login", { name: "login" }),
    ]);
    // Published although the ReferenceGrant CRD is not installed: the store lists it as empty.
    await until("B's route to be served", async () =>
      (await get(gateway.url, "/app", SHARED)).status === 200 ? true : undefined,
    );
    const reason = await until("Accepted=False on C's route", () => {
      const v = condition(C, "login", "Accepted", "reason");
      return v === "NotAllowedByListeners" ? v : undefined;
    });
    expect(reason).toBe("NotAllowedByListeners");
    expect(condition(C, "login", "Accepted", "status")).toBe("False");
    expect(condition(C, "login", "Accepted", "message")).toContain(
      `host name "${SHARED}" belongs to listener "shared" of HostnameOwnership ${SYSTEM}/tenants, which admits namespaces in [${B}], not namespace "${C}"`,
    );
    expect(kube.kubectl("get", "hostnameownership", "tenants", "-n", SYSTEM, "-o", "wide")).toMatch(
      new RegExp(`tenants\\s+${SHARED.replaceAll(".", "\\.")}\\s+True`),
    );
    // The path C claimed is B's: it goes where B's /app prefix sends it.
    const login = await get(gateway.url, "/app/login", SHARED);
    expect(login.status).toBe(200);
    expect(login.body).toBe("team-b saw /app/login");
    expect(condition(B, "app", "Accepted", "status")).toBe("True");
  });

  it("refuses a backendRef to another namespace's pool until that namespace grants it (ReferenceGrant)", async () => {
    kube.apply([route(C, "uses-b", C_HOST, "/", { name: "app", namespace: B })]);
    const refused = await until("ResolvedRefs=False RefNotPermitted on C's route", () => {
      const v = condition(C, "uses-b", "ResolvedRefs", "reason");
      return v === "RefNotPermitted" ? v : undefined;
    });
    expect(refused).toBe("RefNotPermitted");
    expect(condition(C, "uses-b", "ResolvedRefs", "message")).toContain(
      `BackendPool "app" is in namespace "${B}", and no ReferenceGrant there permits GatewayRoutes in "${C}"`,
    );
    await until("the refused share to fail closed (500)", async () =>
      (await get(gateway.url, "/x", C_HOST)).status === 500 ? true : undefined,
    );

    // B installs the Gateway API's CRD and grants C's routes its pool; the running operator
    // notices the CRD (it checks every 10 s) and lists the grant.
    kube.kubectl("apply", "--server-side", "-f", join(ROOT, "e2e/testdata/gateway-api-referencegrants.yaml"));
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", GRANT_CRD);
    kube.apply([grant]);
    await until(
      "the grant to let C's route reach B's pool",
      async () => {
        const r = await get(gateway.url, "/x", C_HOST);
        return r.status === 200 ? r : undefined;
      },
      45_000,
    ).then((r) => expect(r.body).toBe("team-b saw /x"));
    await until("ResolvedRefs=True on C's route", () =>
      condition(C, "uses-b", "ResolvedRefs", "status") === "True" ? true : undefined,
    );

    // Revoked: the reference fails closed again.
    kube.kubectl("delete", "referencegrant", grant.metadata.name, "-n", B);
    await until("the revoked grant to refuse the share again", async () =>
      (await get(gateway.url, "/x", C_HOST)).status === 500 ? true : undefined,
    );
  });
});
