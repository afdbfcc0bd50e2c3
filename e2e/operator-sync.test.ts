import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { decodeSnapshot } from "../core/api/snapshot/secret-codec.ts";
import { sleep } from "../test-support/index.ts";
import { installCrds, ROOT } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { type OperatorProcess, SluiceProcesses } from "./harness/sluice-processes.ts";

const SYSTEM = "sluice-system";
const NS = "e2e-sync";
const procs = new SluiceProcesses();
let kube: KubeClient;
let operator: OperatorProcess;

const adminJson = async (path: string) => {
  const res = await request(`${operator.admin}${path}`).catch(() => undefined);
  return res
    ? { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
    : undefined;
};

const snapshotSecret = () => kube.send("GET", `/api/v1/namespaces/${SYSTEM}/secrets/sluice-snapshot`);

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  const kubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  // The same ClusterRole as config/rbac, without authzpolicies.
  const role = JSON.parse(kube.kubectl("get", "clusterrole", "sluice-operator", "-o", "json"));
  role.rules[0].resources = role.rules[0].resources.filter((r: string) => r !== "authzpolicies");
  kube.apply([role], "replace");
  kube.kubectl("delete", "secret", "sluice-snapshot", "-n", SYSTEM, "--ignore-not-found");
  kube.apply(
    [
      {
        kind: "BackendPool",
        metadata: { name: "sync", namespace: NS },
        spec: { endpoints: [{ address: "127.0.0.1", port: 9 }] },
      },
      {
        kind: "GatewayRoute",
        metadata: { name: "sync", namespace: NS },
        spec: { hostnames: ["sync.example.com"], rules: [{ backendRefs: [{ name: "sync" }] }] },
      },
      {
        kind: "AuthzPolicy",
        metadata: { name: "guard", namespace: NS },
        spec: {
          targetRefs: [{ kind: "GatewayRoute", name: "sync" }],
          rules: [{ name: "nobody", action: "Deny" }],
        },
      },
    ].map((o) => ({ apiVersion: "sluice.dev/v1alpha1", ...o })),
  );
  operator = await procs.operator("sync-operator", kubeconfig, SYSTEM);
});

afterAll(async () => {
  await procs.stopAll();
  kube.kubectl("apply", "-k", `${ROOT}/config/rbac`);
});

describe("an operator that cannot list every kind", () => {
  it("leads but publishes nothing and is not ready, then catches up when it may list again", async () => {
    const status = await procs.until(
      "the operator to lead",
      async () => {
        const s = await adminJson("/status");
        return s?.body.leader === true ? s.body : undefined;
      },
      30_000,
    );
    expect(status.synced).toBe(false);
    await sleep(1_000);
    expect((await adminJson("/readyz"))?.status).toBe(503);
    expect((await snapshotSecret()).status).toBe(404);

    kube.kubectl("apply", "-k", `${ROOT}/config/rbac`);
    await procs.until(
      "/readyz to say ready",
      async () => ((await adminJson("/readyz"))?.status === 200 ? true : undefined),
      30_000,
    );
    const secret = await procs.until(
      "the snapshot Secret to be published",
      async () => {
        const r = await snapshotSecret();
        return r.status === 200 ? r.body : undefined;
      },
      15_000,
    );
    // Published with the AuthzPolicy it could not list before: the route is still guarded.
    const snapshot = decodeSnapshot(secret.data as Record<string, string>) as {
      authzPolicies: { id: string }[];
    };
    expect(snapshot.authzPolicies.map((p) => p.id)).toContain(`${NS}/guard`);
  });
});
