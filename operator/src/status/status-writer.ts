// Writes the conditions compile produced (status-book.ts) to the objects' status
// subresource, for every kind, like Envoy Gateway's status updater. Compile has no clock:
// here each condition gets its lastTransitionTime, kept from the object's current
// condition of the same type while the status (True/False) is unchanged, else now.
//
// Writes are PUTs of the whole status with the resourceVersion the status was computed
// against, not merge patches. lastTransitionTime is derived from the status we read, so
// the write must fail if that status changed in between (409 → re-read, recompute,
// retry), and a PUT replaces the status as a whole: a condition or field compile no
// longer produces disappears without the null tombstones a merge patch would need (and
// merge patch replaces a list wholesale anyway; CRDs have no strategic merge).
import { API_VERSION } from "../../../core/api/common.ts";
import { kindDefinition } from "../../../core/api/kinds.ts";
import type { ConditionDraft, ObjectStatus } from "../../../core/compile/status-book.ts";
import { type ApiClient, ApiError } from "../../../core/kubernetes/api-client.ts";
import { ConditionEvents, type ConditionLike } from "./events.ts";

/** What the writer needs of an object: its resourceVersion, generation and current status. */
export interface CurrentObject {
  metadata?: { generation?: number; resourceVersion?: string; uid?: string };
  status?: unknown;
}

export type CurrentLookup = (kind: string, namespace: string, name: string) => CurrentObject | undefined;

export interface StatusWriterOptions {
  client: ApiClient;
  now?: () => Date;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Conditions added to compile's (e.g. Programmed); one of the same type replaces compile's. */
  extraConditions?: (s: ObjectStatus) => ConditionDraft[];
  /** Objects written at the same time. Default 8. */
  concurrency?: number;
  /** Events for condition transitions (events.ts); default one on `client`, false for none. */
  events?: ConditionEvents | false;
}

export interface WriteCounts {
  /** Objects whose status was written. */
  written: number;
  /** Objects whose status already was the desired one (no request). */
  skipped: number;
  /** 409 Conflict responses seen; each was re-read and retried. */
  conflicts: number;
  /** Objects that no longer exist (404). */
  missing: number;
  /** Objects that could not be written (logged): other errors, or conflicts after every retry. */
  failed: number;
  /** Objects not looked at because a newer status superseded this write (see `write`). */
  deferred: number;
}

/** Retries after a 409 Conflict, each after re-reading the object. */
export const CONFLICT_RETRIES = 3;

interface Condition extends ConditionDraft {
  lastTransitionTime: string;
}

/** RFC 3339 with seconds precision, as metav1.Time serialises: 2026-01-01T00:00:00Z. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

function currentConditions(currentStatus: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const list = (currentStatus as { conditions?: unknown } | null | undefined)?.conditions;
  if (!Array.isArray(list)) return out;
  for (const c of list) {
    if (c && typeof c === "object" && typeof (c as { type?: unknown }).type === "string")
      out.set((c as { type: string }).type, c as Record<string, unknown>);
  }
  return out;
}

/**
 * The status to write for `status`, given the object's current status. Pure. Conditions
 * keep the order compile gave them; a condition's lastTransitionTime is the current one
 * while its status is unchanged, else `now`. `generation` (the object's) fills in
 * observedGeneration where compile had none.
 */
export function desiredStatus(
  status: ObjectStatus,
  currentStatus: unknown,
  now: Date,
  generation?: number,
): Record<string, unknown> {
  const previous = currentConditions(currentStatus);
  const stamp = rfc3339(now);
  const conditions: Condition[] = [];
  const seen = new Set<string>();
  for (const draft of status.conditions) {
    if (seen.has(draft.type)) continue; // a list-map: one condition per type
    seen.add(draft.type);
    const prev = previous.get(draft.type);
    const kept =
      prev && prev.status === draft.status && typeof prev.lastTransitionTime === "string"
        ? prev.lastTransitionTime
        : undefined;
    const c: Condition = {
      type: draft.type,
      status: draft.status,
      reason: draft.reason,
      message: draft.message,
      lastTransitionTime: kept ?? stamp,
    };
    const observed = draft.observedGeneration ?? generation;
    if (observed !== undefined) c.observedGeneration = observed;
    conditions.push(c);
  }
  const out: Record<string, unknown> = { conditions };
  if (status.readyEndpoints !== undefined) out.readyEndpoints = status.readyEndpoints;
  if (status.backends !== undefined) out.backends = status.backends;
  if (status.targets !== undefined) out.targets = status.targets;
  if (status.usage !== undefined) out.usage = status.usage;
  return out;
}

/** Deep equality of JSON values, ignoring object key order; an undefined property counts as absent. */
export function sameStatus(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameStatus(x, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && sameStatus(ra[k], rb[k]));
}

/** Compile's conditions with the extra ones merged in: same type replaces in place, new ones go last. */
export function withExtraConditions(s: ObjectStatus, extra: ConditionDraft[]): ObjectStatus {
  if (extra.length === 0) return s;
  const byType = new Map(extra.map((c) => [c.type, c]));
  const conditions = s.conditions.map((c) => byType.get(c.type) ?? c);
  const present = new Set(s.conditions.map((c) => c.type));
  for (const c of extra) if (!present.has(c.type)) conditions.push(c);
  return { ...s, conditions };
}

type Outcome = "written" | "skipped" | "missing" | "failed";

export class StatusWriter {
  readonly #client: ApiClient;
  readonly #now: () => Date;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #extra: ((s: ObjectStatus) => ConditionDraft[]) | undefined;
  readonly #concurrency: number;
  readonly #events: ConditionEvents | undefined;

  constructor(o: StatusWriterOptions) {
    this.#client = o.client;
    this.#now = o.now ?? (() => new Date());
    this.#log = o.log ?? (() => {});
    this.#extra = o.extraConditions;
    this.#concurrency = Math.max(1, o.concurrency ?? 8);
    this.#events =
      o.events === false
        ? undefined
        : (o.events ?? new ConditionEvents({ client: o.client, log: this.#log }));
  }

  /**
   * Writes each object's status; returns counts. Never throws for one object's failure.
   * Stops early, counting the rest as deferred, once `superseded()` says a newer status exists.
   */
  async write(
    statuses: ObjectStatus[],
    current: CurrentLookup,
    superseded: () => boolean = () => false,
  ): Promise<WriteCounts> {
    const counts: WriteCounts = { written: 0, skipped: 0, conflicts: 0, missing: 0, failed: 0, deferred: 0 };
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < statuses.length; i = next++) {
        // A newer compile has statuses of its own (and a snapshot to publish first): the
        // rest of this one would only be overwritten, and would hold that publish back.
        if (superseded()) {
          counts.deferred = statuses.length - i;
          next = statuses.length;
          return;
        }
        const s = statuses[i] as ObjectStatus;
        let outcome: Outcome;
        try {
          outcome = await this.#writeOne(s, current, counts);
        } catch (err) {
          this.#log("status write failed", { ...ref(s), error: String(err) });
          outcome = "failed";
        }
        counts[outcome]++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, statuses.length) }, worker));
    await this.#events?.flush();
    return counts;
  }

  async #writeOne(s: ObjectStatus, current: CurrentLookup, counts: WriteCounts): Promise<Outcome> {
    const def = kindDefinition(s.kind);
    if (!def) {
      this.#log("status write skipped: unknown kind", ref(s));
      return "failed";
    }
    const path = `/apis/${API_VERSION}/namespaces/${encodeURIComponent(s.namespace)}/${def.plural}/${encodeURIComponent(s.name)}`;
    const wanted = this.#extra ? withExtraConditions(s, this.#extra(s)) : s;
    let obj = current(s.kind, s.namespace, s.name);
    for (let attempt = 0; ; attempt++) {
      if (!obj?.metadata?.resourceVersion) {
        obj = await this.#get(path);
        if (!obj) return "missing";
      }
      const status = desiredStatus(wanted, obj.status, this.#now(), obj.metadata?.generation);
      if (sameStatus(status, obj.status)) return "skipped";
      try {
        await this.#client.send("PUT", `${path}/status`, {
          apiVersion: s.apiVersion || API_VERSION,
          kind: s.kind,
          metadata: { name: s.name, namespace: s.namespace, resourceVersion: obj.metadata?.resourceVersion },
          status,
        });
        this.#logChanges(s, obj.status, status);
        const { uid, resourceVersion } = obj.metadata ?? {};
        this.#events?.changed(
          { ...s, uid, resourceVersion },
          obj.status,
          status.conditions as ConditionLike[],
        );
        return "written";
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 404) return "missing";
        if (err.status !== 409) throw err;
        counts.conflicts++;
        if (attempt >= CONFLICT_RETRIES) {
          this.#log("status write failed: still conflicting after retries", {
            ...ref(s),
            retries: CONFLICT_RETRIES,
          });
          return "failed";
        }
        this.#log("status write conflict, retrying", { ...ref(s), attempt: attempt + 1 });
        obj = undefined; // re-read
      }
    }
  }

  /** One line per condition whose status, reason or message changed: the object and why. */
  #logChanges(s: ObjectStatus, before: unknown, after: Record<string, unknown>) {
    type C = { type: string; status: string; reason: string; message: string };
    const old = new Map(
      ((before as { conditions?: C[] } | undefined)?.conditions ?? []).map((c) => [c.type, c]),
    );
    for (const c of (after.conditions ?? []) as C[]) {
      const was = old.get(c.type);
      if (was && was.status === c.status && was.reason === c.reason && was.message === c.message) continue;
      this.#log("condition set", {
        ...ref(s),
        condition: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        ...(was ? { was: `${was.status}/${was.reason}` } : {}),
      });
    }
  }

  async #get(path: string): Promise<CurrentObject | undefined> {
    try {
      return await this.#client.send<CurrentObject>("GET", path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }
}

function ref(s: ObjectStatus): Record<string, unknown> {
  return { kind: s.kind, namespace: s.namespace, name: s.name };
}
