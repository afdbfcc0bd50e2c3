// The compiler's view of its input: objects by kind, namespace and name, schema-checked
// and with defaults applied. Built once per compile; every later stage only reads it.

import { API_VERSION, type KubeObject } from "../api/common.ts";
import { canonicalJson } from "../api/snapshot/version.ts";
import { validatorFor } from "../api/validate.ts";
import { Reason } from "./reasons.ts";
import { cmp, namespaceOf, type StatusBook } from "./status-book.ts";

const MAX_ISSUES_IN_MESSAGE = 5;
/** Kinds the compiler reads besides its own (core, and the Gateway API's ReferenceGrant); everything else is ignored. */
const REFERENCED_KINDS = new Set(["Secret", "Service", "EndpointSlice", "ReferenceGrant"]);

function isKubeObject(o: unknown): o is KubeObject {
  if (typeof o !== "object" || o === null) return false;
  const { apiVersion, kind, metadata } = o as Record<string, unknown>;
  return (
    typeof apiVersion === "string" &&
    typeof kind === "string" &&
    typeof metadata === "object" &&
    metadata !== null &&
    typeof (metadata as Record<string, unknown>).name === "string" &&
    (metadata as Record<string, unknown>).name !== "" &&
    ["string", "undefined"].includes(typeof (metadata as Record<string, unknown>).namespace)
  );
}

/** Older first: creationTimestamp, then namespace, then name (the Gateway API's tie-break). */
export function olderFirst(a: KubeObject, b: KubeObject): number {
  return (
    cmp(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
    cmp(namespaceOf(a), namespaceOf(b)) ||
    cmp(a.metadata.name, b.metadata.name)
  );
}

/** Core kinds compile looks up by name; the operator watches what it looked up (references). */
const LOOKED_UP = new Set(["Secret", "Service"]);

export class ObjectIndex {
  #byKind = new Map<string, Map<string, KubeObject>>();
  #rejected = new Map<string, KubeObject[]>();
  #slicesByService: Map<string, KubeObject[]> | undefined;
  /**
   * The core objects compile read, found or not: "Secret/ns/name", "Service/ns/name",
   * "EndpointSlice/ns/<service>". A change to any other one cannot change the result.
   */
  readonly references = new Set<string>();

  /**
   * Indexes objects. Sluice kinds are validated against their schema (defaults applied to a
   * copy); an invalid one is reported in `status` and kept apart (`rejected`), so later
   * stages can serve its last good version or refuse what it was meant to protect. Objects without a kind or
   * name cannot be addressed and are skipped (the API server never returns such objects;
   * the standalone loader reports them itself). When the same object appears twice, the
   * copy whose canonical JSON sorts first is kept, so input order never matters.
   */
  constructor(objects: readonly unknown[], status: StatusBook) {
    const candidates = new Map<string, KubeObject>();
    for (const raw of objects) {
      if (!isKubeObject(raw) || !(validatorFor(raw.kind) || REFERENCED_KINDS.has(raw.kind))) continue;
      const key = `${raw.kind}/${namespaceOf(raw)}/${raw.metadata.name}`;
      const seen = candidates.get(key);
      if (!seen || canonicalJson(raw) < canonicalJson(seen)) candidates.set(key, raw);
    }
    for (const raw of candidates.values()) {
      const validate = validatorFor(raw.kind);
      let obj = raw;
      if (validate) {
        if (raw.apiVersion !== API_VERSION) {
          status.set(
            raw,
            "Accepted",
            false,
            Reason.UnsupportedApiVersion,
            `apiVersion: "${raw.apiVersion}" is not supported for ${raw.kind}; use "${API_VERSION}"`,
          );
          this.#reject(raw);
          continue;
        }
        // Validation applies defaults to spec in place: work on a copy of spec, the input is
        // the caller's. Status is the operator's own output and is not judged.
        const { status: _status, ...rest } = raw;
        obj = { ...rest, spec: raw.spec === undefined ? undefined : JSON.parse(JSON.stringify(raw.spec)) };
        const issues = validate(obj);
        if (issues.length > 0) {
          const shown = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((i) => `${i.path}: ${i.message}`);
          if (issues.length > MAX_ISSUES_IN_MESSAGE)
            shown.push(`and ${issues.length - MAX_ISSUES_IN_MESSAGE} more`);
          status.invalid(raw, shown.join("; "));
          this.#reject(raw);
          continue;
        }
      }
      const kind = this.#byKind.get(obj.kind) ?? new Map<string, KubeObject>();
      this.#byKind.set(obj.kind, kind);
      kind.set(`${namespaceOf(obj)}/${obj.metadata.name}`, obj);
    }
  }

  /** Moves an indexed object to the rejected ones: a later check refused it (budgets.ts). */
  reject(obj: KubeObject) {
    this.#byKind.get(obj.kind)?.delete(`${namespaceOf(obj)}/${obj.metadata.name}`);
    this.#reject(obj);
  }

  #reject(obj: KubeObject) {
    const list = this.#rejected.get(obj.kind);
    if (list) list.push(obj);
    else this.#rejected.set(obj.kind, [obj]);
  }

  /** Objects of a kind that failed their schema (as given, unchecked) or a budget, by namespace then name. */
  rejected(kind: string): KubeObject<unknown>[] {
    return [...(this.#rejected.get(kind) ?? [])].sort(
      (a, b) => cmp(namespaceOf(a), namespaceOf(b)) || cmp(a.metadata.name, b.metadata.name),
    );
  }

  get<T = unknown>(kind: string, namespace: string, name: string): KubeObject<T> | undefined {
    if (LOOKED_UP.has(kind)) this.references.add(`${kind}/${namespace}/${name}`);
    return this.#byKind.get(kind)?.get(`${namespace}/${name}`) as KubeObject<T> | undefined;
  }

  /** A Service's EndpointSlices (label kubernetes.io/service-name), by name. */
  endpointSlicesOf(namespace: string, service: string): KubeObject[] {
    this.references.add(`EndpointSlice/${namespace}/${service}`);
    if (!this.#slicesByService) {
      this.#slicesByService = new Map();
      for (const slice of this.list("EndpointSlice")) {
        const owner = slice.metadata.labels?.["kubernetes.io/service-name"];
        if (owner === undefined) continue;
        const key = `${namespaceOf(slice)}/${owner}`;
        const slices = this.#slicesByService.get(key);
        if (slices) slices.push(slice);
        else this.#slicesByService.set(key, [slice]);
      }
    }
    return this.#slicesByService.get(`${namespace}/${service}`) ?? [];
  }

  /** All objects of a kind, by namespace then name. */
  list<T = unknown>(kind: string): KubeObject<T>[] {
    const objs = [...(this.#byKind.get(kind)?.values() ?? [])] as KubeObject<T>[];
    return objs.sort((a, b) => cmp(namespaceOf(a), namespaceOf(b)) || cmp(a.metadata.name, b.metadata.name));
  }
}
