// `when` conditions: CEL (@bufbuild/cel) over
//   claims            the JWT's claims ({} without a JWT)
//   request.headers   lower-case name → value (repeated headers joined with ", ")
//   request.method    "GET", …
//   request.path      the normalised path
//   request.ip        the client address
//   request.time      a timestamp (request.time.getHours("Europe/Berlin") < 20)
// Each expression is parsed and planned once, when the snapshot loads. At request time an
// expression can still fail (a missing claim or header, a type mismatch, 1/0): it then
// counts as not matching in an Allow rule and as matching in a Deny rule, so an error
// never lets a request through that the rule was written to stop.
import { CelScalar, celEnv, isCelError, mapType, parse, plan } from "@bufbuild/cel";

/** The variables a condition sees. */
export interface ConditionInput {
  claims: Readonly<Record<string, unknown>>;
  headers: Readonly<Record<string, string>>;
  method: string;
  path: string;
  ip: string;
  timeMs: number;
}

/** true / false, or "error" when the expression did not produce a boolean. */
export type ConditionResult = boolean | "error";

export interface Condition {
  readonly source: string;
  evaluate(input: ConditionInput): ConditionResult;
}

const VARIABLES = {
  claims: mapType(CelScalar.STRING, CelScalar.DYN),
  request: mapType(CelScalar.STRING, CelScalar.DYN),
};
const env = celEnv({ variables: VARIABLES });
// Type names CEL lets an expression mention as identifiers: type(x) == string.
const TYPE_NAMES = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "string",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
  "dyn",
]);

type Expr = ReturnType<typeof parse>["expr"];

/** Identifiers the expression uses that are neither variables nor bound by a macro. */
function unknownIdentifiers(expr: Expr | undefined, bound: ReadonlySet<string>, out: Set<string>): void {
  if (!expr) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case "identExpr":
      if (
        !bound.has(kind.value.name) &&
        !Object.hasOwn(VARIABLES, kind.value.name) &&
        !TYPE_NAMES.has(kind.value.name)
      )
        out.add(kind.value.name);
      return;
    case "selectExpr":
      unknownIdentifiers(kind.value.operand, bound, out);
      return;
    case "callExpr":
      unknownIdentifiers(kind.value.target, bound, out);
      for (const a of kind.value.args) unknownIdentifiers(a, bound, out);
      return;
    case "listExpr":
      for (const e of kind.value.elements) unknownIdentifiers(e, bound, out);
      return;
    case "structExpr":
      for (const e of kind.value.entries) {
        if (e.keyKind.case === "mapKey") unknownIdentifiers(e.keyKind.value, bound, out);
        unknownIdentifiers(e.value, bound, out);
      }
      return;
    case "comprehensionExpr": {
      const c = kind.value;
      unknownIdentifiers(c.iterRange, bound, out);
      const inner = new Set([...bound, c.accuVar, c.iterVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
      unknownIdentifiers(c.accuInit, inner, out);
      unknownIdentifiers(c.loopCondition, inner, out);
      unknownIdentifiers(c.loopStep, inner, out);
      unknownIdentifiers(c.result, inner, out);
      return;
    }
    default:
      return;
  }
}

/**
 * Why an expression cannot be used, or undefined: a syntax error, or a name that is not
 * a variable (a typo such as `claim.org` would otherwise fail on every request).
 * Compile calls this to put the problem in a condition on the AuthzPolicy.
 */
export function celProblem(source: string): string | undefined {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    return `invalid CEL: ${(err as Error).message}`;
  }
  const unknown = new Set<string>();
  unknownIdentifiers(parsed.expr, new Set(), unknown);
  if (unknown.size > 0)
    return `unknown name${unknown.size > 1 ? "s" : ""} ${[...unknown].map((n) => `"${n}"`).join(", ")}; the variables are claims and request`;
  return undefined;
}

function timestamp(ms: number) {
  const seconds = Math.floor(ms / 1000);
  // google.protobuf.Timestamp as a plain message, which CEL accepts for timestamp values.
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1e6,
  };
}

/** Throws on an expression `celProblem` refuses (the snapshot is then not loaded). */
export function compileCondition(source: string): Condition {
  const problem = celProblem(source);
  if (problem) throw new TypeError(`CEL "${source}": ${problem}`);
  const program = plan(env, parse(source));
  return {
    source,
    evaluate(input) {
      try {
        const result = program({
          claims: input.claims,
          request: {
            headers: input.headers,
            method: input.method,
            path: input.path,
            ip: input.ip,
            time: timestamp(input.timeMs),
          },
        } as never);
        if (isCelError(result) || typeof result !== "boolean") return "error";
        return result;
      } catch {
        return "error";
      }
    },
  };
}
