// Renders a kind's schema as an apiextensions.k8s.io/v1 CustomResourceDefinition.
import type { TSchema } from "@sinclair/typebox";
import { GROUP, type KindDefinition, VERSION } from "./common.ts";

type Schema = Record<string, unknown>;

/**
 * The schema as plain JSON (TypeBox's symbol-keyed metadata dropped), with every property
 * that has a default taken out of `required`. The TypeScript types keep such fields
 * required because they always hold a value after defaulting; the API server, though,
 * checks defaults like `{}` against the schema and would refuse required fields in them.
 */
export function plainSchema(schema: TSchema): Schema {
  return optionalDefaults(JSON.parse(JSON.stringify(schema)) as Schema);
}

function optionalDefaults(node: Schema): Schema {
  const props = node.properties as Record<string, Schema> | undefined;
  if (props) {
    for (const sub of Object.values(props)) optionalDefaults(sub);
    const required = ((node.required as string[] | undefined) ?? []).filter(
      (k) => props[k]?.default === undefined,
    );
    if (required.length > 0) node.required = required;
    else delete node.required;
  }
  if (node.items) optionalDefaults(node.items as Schema);
  return node;
}

export function openApiSchema(def: KindDefinition): Record<string, unknown> {
  return {
    type: "object",
    description: def.description,
    required: ["spec"],
    properties: {
      apiVersion: {
        type: "string",
        description: "APIVersion defines the versioned schema of this representation of an object.",
      },
      kind: {
        type: "string",
        description: "Kind is a string value representing the REST resource this object represents.",
      },
      metadata: { type: "object" },
      spec: plainSchema(def.spec),
      status: plainSchema(def.status),
    },
  };
}

export function customResourceDefinition(def: KindDefinition): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { "app.kubernetes.io/part-of": "sluice" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ["sluice"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: openApiSchema(def) },
        },
      ],
    },
  };
}
