// A second install of Sluice beside the first (another namespace, another name) gets its own
// cluster-scoped objects, with the chart (a release name) and with kustomize (an overlay
// setting namespace and namePrefix, docs/install.md): distinct ClusterRole and
// ClusterRoleBinding names, each binding naming its own ServiceAccount in its own namespace,
// and on the real API server both operators keep their cluster-wide permissions. The CRDs
// are shared by design.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { installCrds, ROOT } from "../harness/install.ts";
import { KubeClient } from "../harness/kube-client.ts";
import { type KubeObject, objectKey, parseObjects, renderChart } from "./helm.ts";

const CRD_COUNT = readdirSync(join(ROOT, "crds")).filter((f) => f.endsWith(".yaml")).length;

interface Binding extends KubeObject {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace: string }[];
}

let kube: KubeClient;
const dir = mkdtempSync(join(tmpdir(), "sluice-overlays-"));
const INSTALLS = [
  { namespace: "sluice-team-a", namePrefix: "team-a-" },
  { namespace: "sluice-team-b", namePrefix: "team-b-" },
];

/** An overlay of config/default as docs/install.md writes it, rendered with kubectl kustomize. */
function overlay(name: string, fields: Record<string, string>): KubeObject[] {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  const base = relative(root, join(ROOT, "config/default"));
  writeFileSync(join(root, "kustomization.yaml"), stringify({ resources: [base], ...fields }));
  return parseObjects(kube.kubectl("kustomize", root));
}

const clusterScoped = (objects: KubeObject[]) => objects.filter((o) => o.metadata.namespace === undefined);
const names = (objects: KubeObject[], kind: string) =>
  objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);

/** The operator's ClusterRoleBinding must bind its ClusterRole to the SA its Deployment runs as. */
function expectOwnBinding(objects: KubeObject[], namespace: string) {
  const [binding, ...more] = objects.filter((o) => o.kind === "ClusterRoleBinding") as Binding[];
  expect(more).toEqual([]);
  const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-operator")) as
    | (KubeObject & { spec: { template: { spec: { serviceAccountName: string } } } })
    | undefined;
  const account = deployment?.spec.template.spec.serviceAccountName;
  expect(deployment?.metadata.namespace).toBe(namespace);
  expect(objects.map(objectKey)).toContain(`ServiceAccount/${namespace}/${account}`);
  expect(binding?.subjects).toEqual([{ kind: "ServiceAccount", name: account, namespace }]);
  expect(names(objects, "ClusterRole")).toEqual([binding?.roleRef.name]);
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, []);
});

afterAll(() => {
  for (const { namespace } of INSTALLS)
    kube.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false");
  kube.kubectl(
    "delete",
    "clusterrolebinding,clusterrole",
    ...INSTALLS.map((i) => `${i.namePrefix}sluice-operator`),
    "--ignore-not-found",
  );
});

describe("a second install", () => {
  it("kustomize: overlays with their own namespace and namePrefix own distinct cluster-scoped objects", () => {
    const [a, b] = INSTALLS.map((i, n) => overlay(`install-${n}`, i)) as [KubeObject[], KubeObject[]];
    for (const [n, install] of INSTALLS.entries()) {
      const objects = n === 0 ? a : b;
      expectOwnBinding(objects, install.namespace);
      expect(names(objects, "Namespace")).toEqual([install.namespace]);
      expect(names(objects, "ClusterRole")).toEqual([`${install.namePrefix}sluice-operator`]);
    }
    // Nothing cluster-scoped is shared except the CRDs, which are the same objects.
    const crds = (objects: KubeObject[]) => objects.filter((o) => o.kind === "CustomResourceDefinition");
    const own = (objects: KubeObject[]) =>
      clusterScoped(objects).filter((o) => o.kind !== "CustomResourceDefinition");
    const aKeys = own(a).map(objectKey);
    expect(
      own(b)
        .map(objectKey)
        .filter((k) => aKeys.includes(k)),
    ).toEqual([]);
    // One CRD per kind the chart ships (crds/), shared by both installs.
    expect(crds(a)).toHaveLength(CRD_COUNT);
    expect(crds(b)).toEqual(crds(a));
    expect(
      clusterScoped(a)
        .map((o) => o.kind)
        .sort(),
    ).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      ...Array(CRD_COUNT).fill("CustomResourceDefinition"),
      "Namespace",
    ]);
  });

  it("kustomize: on the API server, both operators keep their cluster-wide permissions", () => {
    const rbac = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
    INSTALLS.forEach((install, n) => {
      const objects = overlay(`install-${n}`, install).filter((o) => rbac.includes(o.kind));
      const file = join(dir, `rbac-${n}.yaml`);
      writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
      kube.kubectl("apply", "--server-side", "-f", file);
    });
    for (const { namespace, namePrefix } of INSTALLS) {
      const as = `--as=system:serviceaccount:${namespace}:${namePrefix}sluice-operator`;
      expect(
        kube.kubectl("auth", "can-i", "list", "gatewayroutes.sluice.dev", "--all-namespaces", as).trim(),
      ).toBe("yes");
      expect(
        kube.kubectl("auth", "can-i", "create", "events.events.k8s.io", "-n", "default", as).trim(),
      ).toBe("yes");
    }
  });

  it("kustomize: an overlay that changes only the namespace would share the binding, and says so", () => {
    // kustomize renames cluster-scoped objects only through namePrefix/nameSuffix: without one,
    // the second install's binding has the first one's name (docs/install.md says to set one).
    const onlyNamespace = overlay("only-namespace", { namespace: "sluice-team-c" });
    expect(names(onlyNamespace, "ClusterRoleBinding")).toEqual(["sluice-operator"]);
    expectOwnBinding(onlyNamespace, "sluice-team-c");
  });

  it("helm: a release of another name in another namespace owns distinct cluster-scoped objects", () => {
    const a = parseObjects(renderChart("sluice", "sluice-system"));
    const b = parseObjects(renderChart("edge", "sluice-edge"));
    expectOwnBinding(a, "sluice-system");
    expectOwnBinding(b, "sluice-edge");
    expect(clusterScoped(a).map(objectKey)).toEqual([
      "ClusterRole//sluice-operator",
      "ClusterRoleBinding//sluice-operator",
    ]);
    expect(clusterScoped(b).map(objectKey)).toEqual([
      "ClusterRole//edge-sluice-operator",
      "ClusterRoleBinding//edge-sluice-operator",
    ]);
  });
});
