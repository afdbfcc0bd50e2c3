// What a platform engineer relies on in every CRD: `kubectl explain` documents every
// field, the status subresource, the sluice category and short names, and bounds on
// every list and string a CEL rule reads (the API server's cost estimator needs them).
import { describe, expect, it } from "vitest";
import { customResourceDefinition, openApiSchema } from "./crd.ts";
import { KINDS } from "./kinds.ts";

type Schema = Record<string, unknown>;

function undocumented(schema: Schema, path: string, out: string[]) {
  for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
    const at = `${path}.${name}`;
    if (name !== "metadata" && !(typeof sub.description === "string" && sub.description.length > 10))
      out.push(at);
    const child = sub.type === "array" ? (sub.items as Schema) : sub;
    if (child.properties) undocumented(child, sub.type === "array" ? `${at}[]` : at, out);
  }
}

function unboundedLists(schema: Schema, path: string, out: string[]) {
  if (schema.type === "array" && schema.maxItems === undefined) out.push(path);
  for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
    unboundedLists(sub, `${path}.${name}`, out);
  }
  if (schema.items) unboundedLists(schema.items as Schema, `${path}[]`, out);
}

describe.each(KINDS.map((k) => [k.kind, k] as const))("%s CRD", (_kind, def) => {
  const crd = customResourceDefinition(def) as {
    spec: { names: Schema; versions: { subresources: Schema; additionalPrinterColumns: Schema[] }[] };
  };

  it("documents every field", () => {
    const missing: string[] = [];
    undocumented(openApiSchema(def), def.kind, missing);
    expect(missing).toEqual([]);
  });

  it("bounds every list", () => {
    const lists: string[] = [];
    unboundedLists(openApiSchema(def), def.kind, lists);
    expect(lists).toEqual([]);
  });

  it("has the status subresource, the sluice category, a short name and the condition columns", () => {
    expect(crd.spec.names.categories).toEqual(["sluice"]);
    expect((crd.spec.names.shortNames as string[]).length).toBeGreaterThan(0);
    const version = crd.spec.versions[0];
    expect(version?.subresources).toEqual({ status: {} });
    const columns = version?.additionalPrinterColumns.map((c) => c.name);
    expect(columns).toContain("Accepted");
    expect(columns?.at(-1)).toBe("Age");
  });

  // Every kind that refers to something (pools, Services, Secrets, routes) shows ResolvedRefs:
  // without the column a pool whose Service is missing looks green in `kubectl get`.
  // A HostnameOwnership refers to nothing.
  it("shows Accepted, ResolvedRefs and Programmed in kubectl get, in that order", () => {
    const columns = crd.spec.versions[0]?.additionalPrinterColumns.filter((c) => c.priority === undefined);
    const conditions = columns
      ?.map((c) => c.name)
      .filter((n) => ["Accepted", "ResolvedRefs", "Programmed"].includes(n as string));
    const refers = def.kind !== "HostnameOwnership";
    expect(conditions).toEqual(
      refers ? ["Accepted", "ResolvedRefs", "Programmed"] : ["Accepted", "Programmed"],
    );
  });
});
