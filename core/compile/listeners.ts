// Listeners: who may serve which host name. Today they come from HostnameOwnership objects;
// a Gateway's (or ListenerSet's) listeners have the same hostname and allowedRoutes and
// will join here as another source, so hostname-admission.ts judges routes against both
// (docs/adr/0008-hostname-ownership-and-reference-grants.md).

import type { KubeObject } from "../api/common.ts";
import { type HostnameOwnershipSpec, NAMESPACE_NAME_LABEL } from "../api/hostname-ownership.ts";
import type { LastGood } from "./last-good.ts";
import { type ObjectIndex, olderFirst } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";

export interface Listener {
  /** The object the listener belongs to. */
  source: KubeObject;
  name: string;
  /** Exact, "*.suffix", or undefined for every host name (the least specific). */
  hostname: string | undefined;
  admits(namespace: string): boolean;
  /** Who is admitted, for messages: `namespace "b"`, `namespaces in [b, c]`, `every namespace`. */
  admitted: string;
}

type Namespaces = HostnameOwnershipSpec["listeners"][number]["allowedRoutes"]["namespaces"];

/** allowedRoutes.namespaces as a test on a namespace's name (the only label Sluice knows). */
function admission(source: KubeObject, namespaces: Namespaces): Pick<Listener, "admits" | "admitted"> {
  const own = namespaceOf(source);
  switch (namespaces.from) {
    case "All":
      return { admits: () => true, admitted: "every namespace" };
    case "Same":
      return { admits: (ns) => ns === own, admitted: `namespace "${own}"` };
    case "Selector": {
      const expressions = (namespaces.selector?.matchExpressions ?? []).filter(
        (e) => e.key === NAMESPACE_NAME_LABEL,
      );
      // The schema requires at least one expression; an empty selector never means "all".
      if (expressions.length === 0) return { admits: () => false, admitted: "no namespace" };
      return {
        admits: (ns) => expressions.every((e) => e.values.includes(ns) === (e.operator === "In")),
        admitted: expressions
          .map(
            (e) => `namespaces ${e.operator === "In" ? "in" : "not in"} [${[...e.values].sort().join(", ")}]`,
          )
          .join(" and "),
      };
    }
  }
}

export const describeListener = (l: Listener) =>
  `listener "${l.name}" of ${l.source.kind} ${namespaceOf(l.source)}/${l.source.metadata.name}`;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a listener host name covers a route host name ("*" is a route without host names). */
export function covers(listener: string | undefined, host: string): boolean {
  if (listener === undefined) return true;
  if (host === "*") return false;
  if (listener.startsWith("*.")) {
    const suffix = listener.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return listener === host;
}

/** Exact names first, then wildcards with more labels, then the listener for every host. */
function specificity(l: Listener): number {
  if (l.hostname === undefined) return 0;
  const labels = l.hostname.split(".").length;
  return l.hostname.startsWith("*.") ? labels : 1000 + labels;
}

/** Most specific first: the first that covers a host name owns it. */
export const bySpecificity = (a: Listener, b: Listener) => specificity(b) - specificity(a);

/** A listener of an object that is not accepted, whose admitted namespaces are filled in later. */
interface KeptListener extends Listener {
  kept: Set<string>;
}

/**
 * Fails closed for a HostnameOwnership that is not accepted: each listener that can be read
 * of it admits only the namespaces the previous snapshot served on the host names it owned,
 * so an edit that breaks the object neither opens its host names to everyone nor takes them
 * from their owners. (Filled in by `fillKept` once every listener is known.)
 */
function keptListeners(obj: KubeObject, status: StatusBook): KeptListener[] {
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const out: KeptListener[] = [];
  for (const [i, raw] of (Array.isArray(spec.listeners) ? spec.listeners : []).entries()) {
    const l = isRecord(raw) ? raw : {};
    const hostname = typeof l.hostname === "string" && l.hostname !== "" ? l.hostname : undefined;
    const kept = new Set<string>();
    out.push({
      source: obj,
      name: typeof l.name === "string" ? l.name : `listeners[${i}]`,
      hostname,
      kept,
      admits: (ns) => kept.has(ns),
      get admitted() {
        return kept.size === 0
          ? "no namespace while it is not accepted"
          : `only the namespaces it admitted before it became invalid ([${[...kept].sort().join(", ")}])`;
      },
    });
  }
  if (out.length > 0)
    status.set(
      obj,
      "Fallback",
      true,
      Reason.FailClosed,
      "Its host names admit only the namespaces the previous snapshot served on them until it is fixed (see Accepted).",
    );
  return out;
}

/**
 * The listeners of every HostnameOwnership. Two listeners with the same host name conflict:
 * the older object's (creationTimestamp, then namespace/name; then listener order) wins, and
 * the other is left out with a Conflicted condition naming the winner.
 */
export function ownershipListeners(index: ObjectIndex, status: StatusBook, lastGood: LastGood): Listener[] {
  const byHost = new Map<string, Listener>();
  const kept = index.rejected("HostnameOwnership").flatMap((o) => keptListeners(o, status));
  for (const l of kept) if (!byHost.has(l.hostname ?? "")) byHost.set(l.hostname ?? "", l);
  for (const obj of index.list<HostnameOwnershipSpec>("HostnameOwnership").sort(olderFirst)) {
    const lost: string[] = [];
    for (const l of (obj.spec as HostnameOwnershipSpec).listeners) {
      const listener: Listener = {
        source: obj,
        name: l.name,
        hostname: l.hostname,
        ...admission(obj, l.allowedRoutes.namespaces),
      };
      const key = l.hostname ?? "";
      const winner = byHost.get(key);
      if (winner) {
        lost.push(
          `listener "${l.name}": host name ${l.hostname ? `"${l.hostname}"` : "(every host)"} is already assigned by ${describeListener(winner)}`,
        );
        continue;
      }
      byHost.set(key, listener);
    }
    status.set(obj, "Accepted", true, Reason.Accepted, "The HostnameOwnership is valid.");
    if (lost.length > 0)
      status.conflict(obj, Reason.HostnameConflict, `${lost.join("; ")}; these listeners are ignored`);
    status.served(obj);
  }
  const listeners = [...byHost.values()].sort(bySpecificity);
  // A kept listener admits the namespaces the previous snapshot served on the host names it
  // owns now; only those, so compiling again with this snapshot as the previous one changes
  // nothing (a host name a more specific listener owns gives it no namespace).
  for (const l of kept) {
    if (byHost.get(l.hostname ?? "") !== l) continue;
    for (const ns of lastGood.namespacesServedOn((h) => listeners.find((o) => covers(o.hostname, h)) === l))
      l.kept.add(ns);
  }
  return listeners;
}
