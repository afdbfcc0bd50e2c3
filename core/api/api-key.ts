import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  conditionColumn,
  type KindDefinition,
  SecretKeySelector,
  StatusSchema,
  StringList,
} from "./common.ts";

const Identifier = (description: string) =>
  Type.String({ minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9][-A-Za-z0-9_.:@]*$", description });

export const ApiKeySpec = Type.Object(
  {
    secretRef: SecretKeySelector(
      "The Secret key that holds the API key. Only a keyed hash of it leaves the operator; it never appears in status, logs or metrics.",
    ),
    consumer: Identifier(
      "Who uses the key (an application or partner). Several keys may share a consumer, so keys can be rotated.",
    ),
    tenant: Type.Optional(Identifier("Tenant the consumer belongs to; rate limits and rules can use it.")),
    scopes: Type.Optional(StringList("Scopes granted by this key.", Identifier("A scope."), 64)),
    allowedCIDRs: Type.Optional(
      StringList(
        "If set, the key is accepted only from client addresses in these ranges, e.g. 192.168.1.0/24.",
        Type.String({ minLength: 2, maxLength: 49, description: "A CIDR range." }),
        64,
      ),
    ),
    expiresAt: Type.Optional(
      Type.String({
        format: "date-time",
        description: "When the key stops working (RFC 3339). Absent: never.",
      }),
    ),
    disabled: Type.Boolean({ default: false, description: "Turn the key off without deleting it." }),
  },
  { description: "A credential for the consumer; its value lives in a Secret." },
);
export type ApiKeySpec = Static<typeof ApiKeySpec>;

export const apiKey: KindDefinition<typeof ApiKeySpec> = {
  kind: "ApiKey",
  plural: "apikeys",
  singular: "apikey",
  shortNames: ["ak"],
  description:
    "ApiKey is a credential for a consumer, checked by AuthzPolicies that accept API keys. The key itself stays in a Secret; the gateway sees only its keyed hash.",
  spec: ApiKeySpec,
  status: StatusSchema({
    usage: Type.Optional(
      Type.Object(
        {
          requests: Type.Integer({
            minimum: 0,
            description:
              "Requests accepted with the key, summed over the live gateway replicas since they started.",
          }),
          lastUsedTime: Type.String({
            format: "date-time",
            description: "When a gateway last accepted the key (never moves back).",
          }),
        },
        { description: "How the key is used, from the gateways' reports; refreshed about once a minute." },
      ),
    ),
  }),
  printerColumns: [
    { name: "Consumer", type: "string", jsonPath: ".spec.consumer", description: "Who uses the key." },
    { name: "Tenant", type: "string", jsonPath: ".spec.tenant", description: "Tenant of the consumer." },
    { name: "Expires", type: "string", jsonPath: ".spec.expiresAt", description: "Expiry time." },
    conditionColumn("Accepted"),
    conditionColumn("ResolvedRefs"),
    conditionColumn("Active"),
    conditionColumn("Programmed"),
    {
      name: "Last Used",
      type: "date",
      jsonPath: ".status.usage.lastUsedTime",
      description: "When the key was last used.",
    },
    ageColumn,
  ],
};
