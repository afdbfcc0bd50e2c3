// Installs the generated CRDs (idempotently) and the namespaces the test objects use,
// so each test file can run alone or after the others against the shared API server.
import { join } from "node:path";
import type { KubeClient } from "./kube-client.ts";

export const ROOT = join(import.meta.dirname, "../..");

export async function installCrds(kube: KubeClient, namespaces = ["shop", "other", "payments"]) {
  kube.kubectl("apply", "--server-side", "-f", join(ROOT, "crds"));
  kube.kubectl(
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd",
    "-l",
    "app.kubernetes.io/part-of=sluice",
  );
  for (const name of namespaces) {
    const res = await kube.send("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`namespace ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Creates an object with dryRun=All and strict field validation: the server's verdict, nothing stored. */
export function dryRunCreate(kube: KubeClient, plural: string, object: { metadata: { namespace?: string } }) {
  const namespace = object.metadata.namespace ?? "default";
  return kube.send(
    "POST",
    `/apis/sluice.dev/v1alpha1/namespaces/${namespace}/${plural}?dryRun=All&fieldValidation=Strict`,
    object,
  );
}
