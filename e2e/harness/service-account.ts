// Runs Sluice's processes as their own ServiceAccounts, with the RBAC of config/rbac, not
// as cluster-admin: a permission missing from those manifests fails the test.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT } from "./install.ts";
import type { KubeClient } from "./kube-client.ts";

/** Applies config/rbac and returns a kubeconfig file for the ServiceAccount (a bound token). */
export function serviceAccountKubeconfig(
  kube: KubeClient,
  namespace: string,
  name: string,
  dir: string,
): string {
  kube.kubectl("apply", "-k", join(ROOT, "config/rbac"));
  return tokenKubeconfig(kube, namespace, name, dir);
}

/** A kubeconfig with a bound token for an existing ServiceAccount (e.g. one the chart made). */
export function tokenKubeconfig(kube: KubeClient, namespace: string, name: string, dir: string): string {
  const token = kube.kubectl("create", "token", name, "-n", namespace, "--duration=2h").trim();
  const admin = parse(readFileSync(kube.kubeconfig, "utf8")) as {
    clusters: { name: string; cluster: Record<string, string> }[];
  };
  const cluster = admin.clusters[0];
  if (!cluster) throw new Error("admin kubeconfig has no cluster");
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [cluster],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: cluster.name, user: name, namespace } }],
      "current-context": name,
    }),
  );
  return file;
}
