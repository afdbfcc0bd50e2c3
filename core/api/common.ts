// Building blocks shared by the kinds. Every schema here is the single source for
// the TypeScript type (Static<>), the ajv validator, the CRD YAML and the field docs,
// so each carries a description (kubectl explain shows it) and its own bounds (the API
// server's CEL cost estimator needs maxItems/maxLength to accept a rule).
import { type SchemaOptions, type Static, type TSchema, Type } from "@sinclair/typebox";

export const GROUP = "sluice.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL rule for `x-kubernetes-validations`, checked by the API server and by our validator. */
export interface CelRule {
  rule: string;
  message: string;
  /** Relative path (".field") of the field the message is about, so errors name it. */
  fieldPath?: string;
}

export function cel(...rules: CelRule[]): { "x-kubernetes-validations": CelRule[] } {
  return { "x-kubernetes-validations": rules };
}

/** A string enum that is a plain `enum` in the CRD (structural) and a union in TypeScript. */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions) {
  return Type.Unsafe<T[number]>({ ...options, type: "string", enum: [...values] });
}

// Gateway API's duration format: up to four <number><unit> parts, e.g. "1m30s", "250ms".
const DURATION_PATTERN = "^([0-9]{1,5}(h|m|s|ms)){1,4}$";

export function Duration(description: string, options: SchemaOptions = {}) {
  return Type.String({ pattern: DURATION_PATTERN, maxLength: 24, description, ...options });
}

/** The message of PositiveDuration's rule; `absent` says what leaving the field out means. */
export const positiveDurationMessage = (absent?: string) =>
  `must be longer than 0s${absent ? ` (leave the field out for ${absent})` : ""}`;

/**
 * The longest wait a Node.js timer can hold: 2^31 - 1 ms is 596h31m. A longer one fires after
 * 1 ms, so a 600h request timeout would answer every request 504 at once.
 */
export const TIMER_MAX = "596h";

/**
 * A Duration that must be longer than zero. The pattern lets "0s" (and "0h0m") through, and
 * a zero period, timeout or interval is never what was meant: `per: 0s` never limits, a 0s
 * interval polls without pause, a 0s timeout fails every attempt. `max` bounds durations the
 * gateway waits for with a timer (TIMER_MAX). CEL rules, not a pattern, so the API server's
 * message says what is wrong rather than quoting a regular expression.
 */
export function PositiveDuration(
  description: string,
  options: SchemaOptions & { absent?: string; max?: string } = {},
) {
  const { absent, max, ...rest } = options;
  const rules: CelRule[] = [
    { rule: "duration(self) > duration('0s')", message: positiveDurationMessage(absent) },
  ];
  if (max) rules.push({ rule: `duration(self) <= duration('${max}')`, message: `must be at most ${max}` });
  return Duration(description, { ...rest, ...cel(...rules) });
}

/** A Kubernetes object name in the same namespace (DNS-1123 subdomain). */
export function ObjectName(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    description,
  });
}

/** A short identifier used inside a spec (rule names, provider names): DNS-1123 label. */
export function SectionName(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 63,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    description,
  });
}

export function HeaderName(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 256,
    pattern: "^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$",
    description,
  });
}

export function Port(description: string) {
  return Type.Integer({ minimum: 1, maximum: 65535, description });
}

export function StringList<T extends TSchema>(description: string, item: T, maxItems: number) {
  return Type.Array(item, { maxItems, description, "x-kubernetes-list-type": "set" });
}

export const SecretKeySelector = (description: string) =>
  Type.Object(
    {
      name: ObjectName("Name of the Secret, in the same namespace as this object."),
      key: Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: "^[-._a-zA-Z0-9]+$",
        description: "Key within the Secret's data whose value is used.",
      }),
    },
    { description },
  );
export type SecretKeySelector = Static<ReturnType<typeof SecretKeySelector>>;

/** Policy attachment as in the Gateway API (LocalPolicyTargetReferenceWithSectionName). */
export const PolicyTargetReference = Type.Object(
  {
    group: Type.Optional(
      StringEnum([GROUP], { default: GROUP, description: "API group of the target. Only sluice.dev." }),
    ),
    kind: StringEnum(["GatewayRoute"], { description: "Kind of the target. Only GatewayRoute." }),
    name: ObjectName("Name of the target GatewayRoute, in the same namespace as this policy."),
    sectionName: Type.Optional(
      SectionName(
        "Name of one rule of the target route (spec.rules[].name). When set, the policy applies to that rule only and takes precedence over a policy for the whole route.",
      ),
    ),
  },
  { description: "A GatewayRoute (or one named rule of it) that this policy applies to." },
);
export type PolicyTargetReference = Static<typeof PolicyTargetReference>;

export const TargetRefs = Type.Array(PolicyTargetReference, {
  minItems: 1,
  maxItems: 16,
  description: "The GatewayRoutes (or named rules of them) this policy applies to.",
});

export const Condition = Type.Object(
  {
    type: Type.String({
      maxLength: 316,
      description: "Type of the condition: Accepted, ResolvedRefs, Programmed, …",
    }),
    status: StringEnum(["True", "False", "Unknown"], { description: "Status of the condition." }),
    reason: Type.String({
      maxLength: 1024,
      description: "A CamelCase code for the condition's last transition.",
    }),
    message: Type.String({
      maxLength: 32768,
      description: "A human-readable explanation that names the field.",
    }),
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: "The metadata.generation this condition was computed from." }),
    ),
    lastTransitionTime: Type.Optional(
      Type.String({ format: "date-time", description: "When the condition last changed status." }),
    ),
  },
  { description: "The state of one aspect of the object, as in metav1.Condition." },
);
export type Condition = Static<typeof Condition>;

export function StatusSchema(extra: Record<string, TSchema> = {}) {
  return Type.Object(
    {
      conditions: Type.Optional(
        Type.Array(Condition, {
          maxItems: 8,
          description:
            "Conditions: Accepted, ResolvedRefs and Programmed (see docs/reference/conditions.md).",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["type"],
        }),
      ),
      ...extra,
    },
    { description: "Observed state, written by the Sluice operator." },
  );
}

/** Printer column for `kubectl get`; jsonPath as in the CRD's additionalPrinterColumns. */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

export const conditionColumn = (type: string): PrinterColumn => ({
  name: type,
  type: "string",
  jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
  description: `Status of the ${type} condition.`,
});

/** The status of a policy kind: conditions plus the routes it targets, as compile lists them. */
export const PolicyStatusSchema = () =>
  StatusSchema({
    targets: Type.Optional(
      Type.String({
        maxLength: 4096,
        description: "The targeted routes (route or route/rule), comma-separated.",
      }),
    ),
  });

export const targetsColumn: PrinterColumn = {
  name: "Targets",
  type: "string",
  // A JSONPath over every targetRef would show only the first: compile writes the list.
  jsonPath: ".status.targets",
  description: "Targeted routes.",
};

export const ageColumn: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since creation.",
};

/** What a kind module exports: the schema and everything the CRD needs besides it. */
export interface KindDefinition<Spec extends TSchema = TSchema> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: Spec;
  status: TSchema;
  printerColumns: PrinterColumn[];
}

/** Metadata the compiler reads; the API server owns the rest. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: unknown;
}
