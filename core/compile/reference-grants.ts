// Cross-namespace references need the referred-to namespace's consent: a ReferenceGrant
// there (the Gateway API's kind, read as it is) naming the referring kind and namespace and
// the kind (and optionally the name) referred to. Without one the reference is refused and
// fails closed, as a missing pool does. Grants have no status in the Gateway API, so compile
// reports nothing on them: a grant that cannot be read permits nothing, and the refused
// route's condition says which grant it needed.

import type { KubeObject } from "../api/common.ts";
import { REFERENCE_GRANT_API_VERSIONS } from "../api/reference-grant.ts";
import type { ObjectIndex } from "./object-index.ts";
import { namespaceOf } from "./status-book.ts";

export interface GrantFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface GrantTo {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export class ReferenceGrants {
  /** "to namespace|from group|from kind|from namespace" → "to group|to kind|name" (name "" for all). */
  readonly #permitted = new Map<string, Set<string>>();

  constructor(index: ObjectIndex) {
    for (const grant of index.list("ReferenceGrant")) this.#add(grant);
  }

  #add(grant: KubeObject) {
    if (!(REFERENCE_GRANT_API_VERSIONS as readonly string[]).includes(grant.apiVersion)) return;
    const spec = isRecord(grant.spec) ? grant.spec : {};
    const targets: string[] = [];
    for (const to of list(spec.to)) {
      if (!isRecord(to)) continue;
      const group = text(to.group);
      const kind = text(to.kind);
      const name = to.name === undefined ? "" : text(to.name);
      if (group === undefined || !kind || name === undefined) continue;
      targets.push(`${group}|${kind}|${name}`);
    }
    if (targets.length === 0) return;
    const namespace = namespaceOf(grant);
    for (const from of list(spec.from)) {
      if (!isRecord(from)) continue;
      const group = text(from.group);
      const kind = text(from.kind);
      const ns = text(from.namespace);
      if (group === undefined || !kind || !ns) continue;
      const key = `${namespace}|${group}|${kind}|${ns}`;
      const set = this.#permitted.get(key) ?? new Set<string>();
      for (const t of targets) set.add(t);
      this.#permitted.set(key, set);
    }
  }

  /** Whether `from` may refer to `to`: same namespace, or a ReferenceGrant in `to`'s namespace says so. */
  permits(from: GrantFrom, to: GrantTo): boolean {
    if (from.namespace === to.namespace) return true;
    const set = this.#permitted.get(`${to.namespace}|${from.group}|${from.kind}|${from.namespace}`);
    return (
      set !== undefined &&
      (set.has(`${to.group}|${to.kind}|`) || set.has(`${to.group}|${to.kind}|${to.name}`))
    );
  }
}
