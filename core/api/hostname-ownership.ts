// HostnameOwnership: which namespaces' GatewayRoutes may serve which host names. Its
// listeners have the shape of a Gateway API listener's hostname and allowedRoutes, so a
// Gateway's (or ListenerSet's) listeners can later feed the same compile stage
// (docs/adr/0008-hostname-ownership-and-reference-grants.md). Only the host name and who
// may attach are modelled: ports, protocols and TLS stay with the gateway's Service.
import { type Static, Type } from "@sinclair/typebox";
import {
  ageColumn,
  cel,
  conditionColumn,
  type KindDefinition,
  SectionName,
  StatusSchema,
  StringEnum,
  StringList,
} from "./common.ts";
import { Hostname } from "./gateway-route.ts";

/** The one label every namespace carries with its own name (set by the API server). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const NamespaceExpression = Type.Object(
  {
    key: StringEnum([NAMESPACE_NAME_LABEL], {
      description: `The label the expression tests. Only "${NAMESPACE_NAME_LABEL}" (the namespace's name) for now: Sluice does not read Namespace objects, so other labels could not be evaluated.`,
    }),
    operator: StringEnum(["In", "NotIn"], {
      description: "In: the namespace's name is one of values. NotIn: it is none of them.",
    }),
    values: StringList(
      "Namespace names.",
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description: "A namespace name.",
      }),
      64,
    ),
  },
  { description: "A label selector requirement, as in metav1.LabelSelectorRequirement." },
);

const RouteNamespaces = Type.Object(
  {
    from: StringEnum(["All", "Same", "Selector"], {
      default: "Same",
      description:
        "All: routes in every namespace. Same: routes in this HostnameOwnership's namespace. Selector: routes in the namespaces the selector picks.",
    }),
    selector: Type.Optional(
      Type.Object(
        {
          matchExpressions: Type.Array(NamespaceExpression, {
            minItems: 1,
            maxItems: 8,
            description: "Requirements that must all hold.",
          }),
        },
        {
          description:
            "Which namespaces (with from: Selector), as a Gateway API listener's allowedRoutes.namespaces.selector; every expression must hold.",
        },
      ),
    ),
  },
  {
    description: "The namespaces whose routes may attach.",
    default: { from: "Same" },
    ...cel({
      rule: "self.from == 'Selector' ? has(self.selector) : !has(self.selector)",
      message: "selector must be set exactly when from is Selector",
      fieldPath: ".selector",
    }),
  },
);

const Listener = Type.Object(
  {
    name: SectionName("Name of the listener, unique within this object."),
    hostname: Type.Optional(Hostname),
    allowedRoutes: Type.Object(
      {
        namespaces: RouteNamespaces,
      },
      {
        default: { namespaces: { from: "Same" } },
        description: "Which routes may serve the hostname, as in a Gateway API listener.",
      },
    ),
  },
  {
    description:
      'A host name (exact, or "*.example.com" for every name under it; absent: every host name) and the namespaces whose GatewayRoutes may serve it. A route host name belongs to the most specific listener that covers it.',
  },
);
export type OwnershipListener = Static<typeof Listener>;

export const HostnameOwnershipSpec = Type.Object(
  {
    listeners: Type.Array(Listener, {
      minItems: 1,
      maxItems: 64,
      description: "The host names this object assigns, each with who may serve it.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
  },
  { description: "Host names and the namespaces whose routes may serve them." },
);
export type HostnameOwnershipSpec = Static<typeof HostnameOwnershipSpec>;

export const hostnameOwnership: KindDefinition<typeof HostnameOwnershipSpec> = {
  kind: "HostnameOwnership",
  plural: "hostnameownerships",
  singular: "hostnameownership",
  shortNames: ["hno"],
  description:
    "HostnameOwnership says which namespaces' GatewayRoutes may serve which host names, like the hostname and allowedRoutes of a Gateway API listener. A route on a host name owned by listeners that do not admit its namespace is refused for that host name. Grant it to platform teams only: whoever may create one may assign host names.",
  spec: HostnameOwnershipSpec,
  status: StatusSchema(),
  printerColumns: [
    {
      name: "Hostnames",
      type: "string",
      jsonPath: ".spec.listeners[*].hostname",
      description: "Host names assigned.",
    },
    conditionColumn("Accepted"),
    conditionColumn("Conflicted"),
    conditionColumn("Programmed"),
    ageColumn,
  ],
};
