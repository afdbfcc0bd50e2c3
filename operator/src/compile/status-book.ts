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

export class StatusBook {
  #entries = new Map<string, ObjectStatus>();
  #generations = new Map<string, number | undefined>();

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
      this.#generations.set(key, obj.metadata.generation);
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

  has(obj: KubeObject, type: keyof typeof ConditionType): boolean {
    return this.#entry(obj).conditions.some((c) => c.type === type);
  }

  isAccepted(obj: KubeObject): boolean {
    return !this.#entry(obj).conditions.some((c) => c.type === "Accepted" && c.status === "False");
  }

  invalid(obj: KubeObject, message: string) {
    this.set(obj, "Accepted", false, Reason.Invalid, message);
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
    const order = ["Accepted", "ResolvedRefs", "Conflicted", "Active"];
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
