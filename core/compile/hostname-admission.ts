// Which host names a route may serve. A route host name belongs to the most specific
// listener that covers it (exact, then the wildcard with the most labels, then a listener
// without a host name), as a request belongs to the most specific Gateway listener; the
// route serves it only if that listener admits the route's namespace. With ownership
// required, a host name no listener covers is refused too.
//
// The gateway sends a request that no route of its host matches on to the wildcard hosts
// and then to routes without host names (router.ts). So a wildcard host name, or none,
// would also receive the unmatched requests of every more specific host name under it: a
// route may only have one if every listener under it admits the route's namespace as well.
//
// Refusing is per host name: a route keeps the host names it may serve (Conflicted names the
// others) and is not accepted when none is left.

import type { KubeObject } from "../api/common.ts";
import { bySpecificity, covers, describeListener, type Listener } from "./listeners.ts";
import { Reason } from "./reasons.ts";
import type { HostMatch } from "./routes.ts";
import { namespaceOf, type StatusBook } from "./status-book.ts";

interface Refusal {
  reason: Reason;
  message: string;
}

const quoted = (host: string) =>
  host === "*" ? `"*" (the route has no hostnames: every host)` : `"${host}"`;

export class HostnameAdmission {
  readonly #listeners: Listener[];
  readonly #required: boolean;
  /** "namespace host" → refusal, or null when admitted. */
  readonly #decided = new Map<string, Refusal | null>();

  constructor(listeners: Listener[], required: boolean) {
    this.#listeners = [...listeners].sort(bySpecificity);
    this.#required = required;
  }

  /** Why routes in `namespace` may not serve `host`, or undefined when they may. */
  refusal(namespace: string, host: string): Refusal | undefined {
    const key = `${namespace} ${host}`;
    let decided = this.#decided.get(key);
    if (decided === undefined) {
      decided = this.#decide(namespace, host) ?? null;
      this.#decided.set(key, decided);
    }
    return decided ?? undefined;
  }

  #decide(namespace: string, host: string): Refusal | undefined {
    if (this.#listeners.length === 0 && !this.#required) return undefined;
    const owner = this.#listeners.find((l) => covers(l.hostname, host));
    if (owner && !owner.admits(namespace))
      return {
        reason: Reason.NotAllowedByListeners,
        message: `host name ${quoted(host)} belongs to ${describeListener(owner)}, which admits ${owner.admitted}, not namespace "${namespace}"`,
      };
    if (!owner && this.#required)
      return {
        reason: Reason.NoMatchingListenerHostname,
        message: `host name ${quoted(host)} belongs to no HostnameOwnership listener, and the operator requires one for every host name`,
      };
    const pattern = host === "*" ? undefined : host;
    if (pattern !== undefined && !pattern.startsWith("*.")) return undefined;
    const under = this.#listeners.find(
      (l) =>
        l.hostname !== undefined &&
        l.hostname !== host &&
        covers(pattern, l.hostname) &&
        !l.admits(namespace),
    );
    if (under)
      return {
        reason: Reason.NotAllowedByListeners,
        message: `host name ${quoted(host)} would also receive the requests for "${under.hostname}" that its own routes do not match, and that host name belongs to ${describeListener(under)}, which admits ${under.admitted}, not namespace "${namespace}"`,
      };
    return undefined;
  }
}

/**
 * The matches routes may serve, and conditions on the routes that lose host names: every
 * match of a refused (namespace, host name) is left out.
 */
export function admitHostnames(
  matches: HostMatch[],
  admission: HostnameAdmission,
  status: StatusBook,
): HostMatch[] {
  const refused = new Map<KubeObject, Map<string, Refusal>>();
  const admitted = new Set<KubeObject>();
  const out: HostMatch[] = [];
  for (const m of matches) {
    const why = admission.refusal(namespaceOf(m.route), m.hostname);
    if (!why) {
      out.push(m);
      admitted.add(m.route);
      continue;
    }
    const hosts = refused.get(m.route) ?? new Map<string, Refusal>();
    hosts.set(m.hostname, why);
    refused.set(m.route, hosts);
  }
  for (const [route, hosts] of refused) {
    const list = [...hosts.values()];
    const reason =
      list.find((r) => r.reason === Reason.NotAllowedByListeners)?.reason ??
      Reason.NoMatchingListenerHostname;
    const message = list.map((r) => r.message).join("; ");
    if (!admitted.has(route) && status.isAccepted(route))
      status.set(route, "Accepted", false, reason, `${message}. No host name of this route is served.`);
    else status.conflict(route, reason, `${message}; that host name is not served`);
  }
  return out;
}
