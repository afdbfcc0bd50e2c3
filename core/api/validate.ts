// Validates objects of the sluice kinds exactly as the API server would: the OpenAPI
// schema (ajv, with defaults applied), list-map key uniqueness, and the CEL rules in
// x-kubernetes-validations. Standalone mode has no API server, so without this a bad
// file would only be found by surprise at runtime. Unknown fields are refused too,
// like `kubectl apply --validate=strict`.
import { celEnv, parse, plan } from "@bufbuild/cel";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { createAjv } from "./ajv.ts";
import type { CelRule, KindDefinition } from "./common.ts";
import { openApiSchema } from "./crd.ts";
import { KINDS } from "./kinds.ts";

export interface ValidationIssue {
  /** Field path in kubectl's notation, e.g. spec.rules[0].backendRefs[1].weight. */
  path: string;
  message: string;
}

type Schema = Record<string, unknown>;
type Evaluate = (self: unknown) => unknown;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const celEnvironment = celEnv();
const celPrograms = new Map<string, Evaluate>();

function celProgram(rule: string): Evaluate {
  let program = celPrograms.get(rule);
  if (!program) {
    const planned = plan(celEnvironment, parse(rule));
    program = (self) => planned({ self } as never);
    celPrograms.set(rule, program);
  }
  return program;
}

/** The schema with additionalProperties: false wherever properties are listed. */
function strict(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties && typeof schema.properties === "object") {
    const props: Record<string, Schema> = {};
    for (const [k, v] of Object.entries(schema.properties as Record<string, Schema>)) props[k] = strict(v);
    out.properties = props;
    if (Object.keys(props).length > 0) out.additionalProperties = false;
  }
  if (schema.items) out.items = strict(schema.items as Schema);
  return out;
}

function fieldPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

function ajvPath(instancePath: string): (string | number)[] {
  return instancePath
    .split("/")
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replaceAll("~1", "/").replaceAll("~0", "~")));
}

function describeAjvError(e: ErrorObject): ValidationIssue {
  const at = ajvPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return { path: fieldPath([...at, String(p.missingProperty)]), message: "Required value" };
    case "additionalProperties":
      return { path: fieldPath([...at, String(p.additionalProperty)]), message: "unknown field" };
    case "enum":
      return {
        path: fieldPath(at),
        message: `Unsupported value: ${JSON.stringify(e.data)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "type":
      return {
        path: fieldPath(at),
        message: `Invalid value: ${JSON.stringify(e.data)}: must be ${String(p.type)}`,
      };
    default:
      return {
        path: fieldPath(at),
        message: `Invalid value: ${JSON.stringify(e.data)}: ${e.message ?? e.keyword}`,
      };
  }
}

// What ajv cannot check, per schema node: CEL rules and list-type uniqueness. Built once
// per schema, with only the subtrees that have something to check, so validating an
// object walks just those parts of it.
interface RulePlan {
  rules: { rule: CelRule; evaluate: Evaluate }[];
  listMapKeys?: string[];
  listSet?: boolean;
  items?: RulePlan;
  properties: [string, RulePlan][];
}

function planRules(schema: Schema): RulePlan | undefined {
  const plan: RulePlan = {
    rules: ((schema["x-kubernetes-validations"] as CelRule[] | undefined) ?? []).map((rule) => ({
      rule,
      evaluate: celProgram(rule.rule),
    })),
    properties: [],
  };
  if (schema["x-kubernetes-list-type"] === "map")
    plan.listMapKeys = schema["x-kubernetes-list-map-keys"] as string[];
  if (schema["x-kubernetes-list-type"] === "set") plan.listSet = true;
  const items = schema.items ? planRules(schema.items as Schema) : undefined;
  if (items) plan.items = items;
  for (const [k, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const child = planRules(sub);
    if (child) plan.properties.push([k, child]);
  }
  const empty = plan.rules.length === 0 && !plan.listMapKeys && !plan.listSet && !plan.items;
  return empty && plan.properties.length === 0 ? undefined : plan;
}

function duplicates(value: unknown[], id: (item: unknown) => string, at: string, issues: ValidationIssue[]) {
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const key = id(item);
    if (seen.has(key)) issues.push({ path: `${at}[${i}]`, message: `Duplicate value: ${key}` });
    seen.add(key);
  });
}

function checkRules(plan: RulePlan, value: unknown, at: string, issues: ValidationIssue[]) {
  if (value === undefined || value === null) return;
  for (const { rule, evaluate } of plan.rules) {
    let result: unknown;
    try {
      result = evaluate(value);
    } catch (err) {
      result = err;
    }
    if (result !== true)
      issues.push({ path: at + (rule.fieldPath ?? ""), message: `Invalid value: ${rule.message}` });
  }
  if (Array.isArray(value)) {
    const keys = plan.listMapKeys;
    if (keys)
      duplicates(
        value,
        (item) => JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k])),
        at,
        issues,
      );
    else if (plan.listSet) duplicates(value, (item) => JSON.stringify(item), at, issues);
    const items = plan.items;
    if (items) {
      for (const [i, item] of value.entries()) checkRules(items, item, `${at}[${i}]`, issues);
    }
    return;
  }
  if (typeof value === "object") {
    for (const [k, child] of plan.properties) {
      checkRules(child, (value as Record<string, unknown>)[k], at === "" ? k : `${at}.${k}`, issues);
    }
  }
}

/** Validates and applies schema defaults in place. Returns the issues, empty when valid. */
export type KindValidator = (object: unknown) => ValidationIssue[];

function compileValidator(ajv: Ajv, def: KindDefinition): KindValidator {
  const schema = openApiSchema(def);
  // status is the operator's to write; a manifest is judged by its spec.
  const properties = { ...(schema.properties as Record<string, Schema>), status: {} };
  const validate: ValidateFunction = ajv.compile(strict({ ...schema, properties }));
  // status is the operator's to write; a manifest is judged by its spec.
  const { status: _status, ...judged } = schema.properties as Record<string, Schema>;
  const rules = planRules({ ...schema, properties: judged });
  return (object) => {
    if (!validate(object)) return (validate.errors ?? []).map(describeAjvError);
    const issues: ValidationIssue[] = [];
    if (rules) checkRules(rules, object, "", issues);
    return issues;
  };
}

function kindsAjv(): Ajv {
  const ajv = createAjv({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    strict: true,
    strictRequired: false,
  });
  addFormats(ajv);
  // ajv-formats allows a leap second (":60"); the API server (Go's time.Parse) does not,
  // and neither does Date, which the compiler uses. Refuse what either would refuse.
  const rfc3339 = ajv.formats["date-time"] as { validate: (s: string) => boolean };
  ajv.addFormat("date-time", (s: string) => rfc3339.validate(s) && !Number.isNaN(Date.parse(s)));
  ajv.addVocabulary([
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
  ]);
  return ajv;
}

let validators: Map<string, KindValidator> | undefined;

/** The validator for a kind of sluice.dev/v1alpha1, or undefined for other kinds. */
export function validatorFor(kind: string): KindValidator | undefined {
  if (!validators) {
    const ajv = kindsAjv();
    validators = new Map(KINDS.map((def) => [def.kind, compileValidator(ajv, def as KindDefinition)]));
  }
  return validators.get(kind);
}
