// Collects the conditions compile gives each object. Conditions carry no
// lastTransitionTime: compile has no clock; the status writer adds it when a
// condition's status changes.
import type { KubeObject } from "../api/common.ts";
import { KINDS } from "../api/kinds.ts";
import { type ConditionType, Reason } from "./reasons.ts";

export interface ConditionDraft {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface ObjectStatus {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  conditions: ConditionDraft[];
  readyEndpoints?: number;
  backends?: string;
  targets?: string;
  /** ApiKey: filled in by the operator from the gateways' reports, never by compile. */
  usage?: { requests: number; lastUsedTime: string };
}

const KIND_ORDER = new Map<string, number>(KINDS.map((k, i) => [k.kind, i]));

export function namespaceOf(obj: KubeObject): string {
  return obj.metadata.namespace || "default";
}

const isGeneration = (g: unknown): g is number => Number.isSafeInteger(g) && (g as number) >= 0;
const keyOf = (obj: KubeObject) => `${obj.kind}/${namespaceOf(obj)}/${obj.metadata.name}`;

export class StatusBook {
  #entries = new Map<string, ObjectStatus>();
  #served = new Map<string, number>();

  #entry(obj: KubeObject): ObjectStatus {
    const key = `${obj.kind}/${namespaceOf(obj)}/${obj.metadata.name}`;
    let e = this.#entries.get(key);
    if (!e) {
      e = {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: namespaceOf(obj),
        name: obj.metadata.name,
        conditions: [],
      };
      this.#entries.set(key, e);
    }
    return e;
  }

  /** Sets (or replaces) one condition. */
  set(obj: KubeObject, type: keyof typeof ConditionType, ok: boolean, reason: Reason, message: string) {
    const e = this.#entry(obj);
    const generation = obj.metadata.generation;
    const c: ConditionDraft = { type, status: ok ? "True" : "False", reason, message };
    if (generation !== undefined) c.observedGeneration = generation;
    e.conditions = e.conditions.filter((x) => x.type !== type).concat(c);
  }

  /**
   * Reports a conflict: when the object already has one (a host name not allowed, then a
   * shadowed match), the messages are joined and the first reason stays.
   */
  conflict(obj: KubeObject, reason: Reason, message: string) {
    const seen = this.#entry(obj).conditions.find((c) => c.type === "Conflicted" && c.status === "True");
    if (seen) this.set(obj, "Conflicted", true, seen.reason as Reason, `${seen.message}; ${message}`);
    else this.set(obj, "Conflicted", true, reason, message);
  }

  has(obj: KubeObject, type: keyof typeof ConditionType): boolean {
    return this.#entry(obj).conditions.some((c) => c.type === type);
  }

  isAccepted(obj: KubeObject): boolean {
    return !this.#entry(obj).conditions.some((c) => c.type === "Accepted" && c.status === "False");
  }

  invalid(obj: KubeObject, message: string) {
    this.set(obj, "Accepted", false, Reason.Invalid, message);
  }

  /** Message of the Accepted condition (why an object was not accepted), for other conditions to cite. */
  acceptedMessage(obj: KubeObject): string {
    return this.#entry(obj).conditions.find((c) => c.type === "Accepted")?.message ?? "";
  }

  /** The object is not accepted, and its last valid version keeps serving in its place. */
  servingLastGood(obj: KubeObject, generation: number | undefined) {
    const current = obj.metadata.generation;
    const which =
      generation === undefined
        ? "The last valid version of this object is still served"
        : `Generation ${generation}, the last valid one, is still served`;
    // Unchanged but refused (a namespace over its budget): served as it was, no newer one.
    const now =
      current === undefined
        ? "; this version is not"
        : current === generation
          ? ""
          : `; generation ${current} is not`;
    this.set(obj, "Fallback", true, Reason.LastGoodServed, `${which}${now} (see Accepted).`);
    if (isGeneration(generation)) this.#served.set(keyOf(obj), generation);
  }

  /** The object is not accepted and has no valid version to keep: what it protects refuses traffic. */
  failedClosed(obj: KubeObject, ruleIds: readonly string[], why = "No valid version to keep") {
    const message =
      ruleIds.length === 0
        ? `${why}, and no served rule is targeted: nothing is refused.`
        : `${why}: rules ${ruleIds.join(", ")} answer 503 policy-invalid until this object is fixed (see Accepted).`;
    this.set(obj, "Fallback", true, Reason.FailClosed, message);
  }

  /** Records that the object is served at its current generation (when it has one). */
  served(obj: KubeObject) {
    const generation = obj.metadata.generation;
    if (isGeneration(generation)) this.#served.set(keyOf(obj), generation);
  }

  /** Kind/namespace/name → generation served, for the snapshot. */
  generations(): Record<string, number> {
    return Object.fromEntries([...this.#served].sort(([a], [b]) => cmp(a, b)));
  }

  setReadyEndpoints(obj: KubeObject, n: number) {
    this.#entry(obj).readyEndpoints = n;
  }

  setBackends(obj: KubeObject, names: string[]) {
    this.#entry(obj).backends = [...new Set(names)].join(",");
  }

  /** The targetRefs of a policy, for its Targets printer column (route or route/section). */
  setTargets(obj: KubeObject, refs: { name: string; sectionName?: string }[]) {
    this.#entry(obj).targets = [
      ...new Set(refs.map((r) => (r.sectionName ? `${r.name}/${r.sectionName}` : r.name))),
    ].join(",");
  }

  list(): ObjectStatus[] {
    const order = ["Accepted", "Fallback", "ResolvedRefs", "Conflicted", "Active"];
    return [...this.#entries.values()]
      .map((e) => ({
        ...e,
        conditions: [...e.conditions].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type)),
      }))
      .sort(
        (a, b) =>
          (KIND_ORDER.get(a.kind) ?? 99) - (KIND_ORDER.get(b.kind) ?? 99) ||
          cmp(a.namespace, b.namespace) ||
          cmp(a.name, b.name),
      );
  }
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
