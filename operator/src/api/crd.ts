// Renders a kind's schema as an apiextensions.k8s.io/v1 CustomResourceDefinition.
import type { TSchema } from "@sinclair/typebox";
import { GROUP, type KindDefinition, VERSION } from "./common.ts";

/** The schema as plain JSON: TypeBox's symbol-keyed metadata dropped. */
export function plainSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
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
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
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
