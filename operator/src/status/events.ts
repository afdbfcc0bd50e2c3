// Kubernetes Events (events.k8s.io/v1) for condition transitions, so `kubectl describe` shows
// an object's history: one Event when a condition's status or reason changes, never for a
// write that only moves a message or a count. Modelled on client-go's recorders:
//
// - Isomorphic events are one series (tools/events): the same object, action (the
//   condition type), reason and type within `seriesWindowMs` (6 min) of the last one patch
//   the existing Event's `series.count` / `lastObservedTime` instead of creating another.
//   A route flapping between two pools is two Events with growing counts, not hundreds.
// - A token bucket per object (tools/record's spam filter: burst 25, one more every 5 min)
//   and one for the whole operator (burst 100, 10 per second) bound the requests. Past
//   them an Event is dropped, as client-go drops it: the conditions still say the truth,
//   Events are history. A series' count keeps growing in memory, so the next patch that
//   goes through carries every occurrence.
// - What it remembers is bounded (`maxTracked` series and buckets, oldest forgotten first).
//
// Best effort throughout: a failed request is logged, never thrown into the status writer.
import { hostname } from "node:os";
import { type ApiClient, ApiError } from "../../../core/kubernetes/api-client.ts";

/** The object an Event is about (`regarding`; core/v1 shows it as `involvedObject`). */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface ConditionLike {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface ConditionEventsOptions {
  client: ApiClient;
  /** The Events' reportingController; kubectl describe shows it as "From". */
  reportingController?: string;
  /** The replica that reports (default: the host name, the pod's name in Kubernetes). */
  reportingInstance?: string;
  now?: () => Date;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  seriesWindowMs?: number;
  perObject?: { burst: number; refillMs: number };
  overall?: { burst: number; refillMs: number };
  maxTracked?: number;
}

export const REPORTING_CONTROLLER = "sluice.dev/operator";
const NOTE_MAX = 1024; // the API server refuses longer notes

/** Reasons that say "on the way", not "wrong": Programmed=False/Pending until gateways report. */
const PROGRESS_REASONS = new Set(["Pending"]);

/** Warning for a condition that is False for a reason other than progress, else Normal. */
export function eventType(c: ConditionLike): "Warning" | "Normal" {
  return c.status === "False" && !PROGRESS_REASONS.has(c.reason) ? "Warning" : "Normal";
}

/**
 * The changes worth an Event between a status as read and as written: a condition whose
 * status or reason differs, or a new condition that starts as a Warning (a new object that
 * is healthy, or pending as every new object is, is not news; one that starts broken is).
 */
export function conditionTransitions(before: unknown, after: ConditionLike[]): ConditionLike[] {
  const list = (before as { conditions?: unknown } | null | undefined)?.conditions;
  const old = new Map<string, ConditionLike>();
  if (Array.isArray(list)) for (const c of list as ConditionLike[]) if (c?.type) old.set(c.type, c);
  return after.filter((c) => {
    const was = old.get(c.type);
    return was ? was.status !== c.status || was.reason !== c.reason : eventType(c) === "Warning";
  });
}

class Bucket {
  readonly #burst: number;
  readonly #refillMs: number;
  #tokens: number;
  #at: number;
  constructor(burst: number, refillMs: number, now: number) {
    this.#burst = burst;
    this.#refillMs = refillMs;
    this.#tokens = burst;
    this.#at = now;
  }
  take(now: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) / this.#refillMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

interface Series {
  /** The Event's name once created; undefined while its create is in flight or was dropped. */
  name: string | undefined;
  action: string;
  reason: string;
  type: string;
  count: number;
  /** A request for this series is waiting to start: it will carry later occurrences too. */
  queued: boolean;
  /** The count the API server has. */
  sent: number;
  lastObserved: number;
  note: string;
}

/** A Map used as an LRU: touched keys move to the end, the oldest go past `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number) {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as string);
}

export class ConditionEvents {
  readonly #client: ApiClient;
  readonly #controller: string;
  readonly #instance: string;
  readonly #now: () => Date;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #window: number;
  readonly #perObject: { burst: number; refillMs: number };
  readonly #maxTracked: number;
  readonly #overall: Bucket;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, Bucket>();
  /** Per series, the request chain: a patch waits for the create before it. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  #seq = 0;
  /** Events dropped by the limits (also logged, once per object and minute at most). */
  dropped = 0;
  readonly #droppedLogged = new Map<string, number>();

  constructor(o: ConditionEventsOptions) {
    this.#client = o.client;
    this.#controller = o.reportingController ?? REPORTING_CONTROLLER;
    this.#instance = (o.reportingInstance ?? hostname()).slice(0, 128);
    this.#now = o.now ?? (() => new Date());
    this.#log = o.log ?? (() => {});
    this.#window = o.seriesWindowMs ?? 6 * 60_000;
    this.#perObject = o.perObject ?? { burst: 25, refillMs: 5 * 60_000 };
    const overall = o.overall ?? { burst: 100, refillMs: 100 };
    this.#overall = new Bucket(overall.burst, overall.refillMs, this.#now().getTime());
    this.#maxTracked = o.maxTracked ?? 4096;
  }

  /** Records an Event for each transition between `before` (status as read) and `after`. */
  changed(subject: EventSubject, before: unknown, after: ConditionLike[]): void {
    for (const c of conditionTransitions(before, after)) this.record(subject, c);
  }

  /** One occurrence of a condition being set on `subject`; sent in the background. */
  record(subject: EventSubject, c: ConditionLike): void {
    const type = eventType(c);
    const object = `${subject.kind}/${subject.namespace}/${subject.name}/${subject.uid ?? ""}`;
    const key = `${object}|${c.type}|${c.reason}|${type}`;
    const now = this.#now().getTime();
    const note = `${c.type}=${c.status}: ${c.message}`.slice(0, NOTE_MAX);
    let series = this.#series.get(key);
    if (series && now - series.lastObserved > this.#window) series = undefined; // a new series
    if (series) {
      series.count++;
      series.lastObserved = now;
      series.note = note;
    } else {
      series = {
        name: undefined,
        action: c.type,
        reason: c.reason,
        type,
        count: 1,
        queued: false,
        sent: 0,
        lastObserved: now,
        note,
      };
    }
    remember(this.#series, key, series, this.#maxTracked);
    if (series.queued) return; // coalesced into the request not yet sent
    if (!this.#allowed(object, now)) {
      this.dropped++;
      if (now - (this.#droppedLogged.get(object) ?? Number.NEGATIVE_INFINITY) >= 60_000) {
        remember(this.#droppedLogged, object, now, this.#maxTracked);
        this.#log("event dropped: rate limited", { ...name(subject), reason: c.reason });
      }
      return;
    }
    const s = series;
    s.queued = true;
    const send = () => {
      s.queued = false;
      return s.name === undefined ? this.#create(subject, s) : this.#patch(subject, s);
    };
    const chain = (this.#chains.get(key) ?? Promise.resolve()).then(send).catch((err: unknown) => {
      this.#log("event not recorded", { ...name(subject), reason: c.reason, error: String(err) });
    });
    remember(this.#chains, key, chain, this.#maxTracked);
    this.#inFlight.add(chain);
    void chain.finally(() => {
      this.#inFlight.delete(chain);
      if (this.#chains.get(key) === chain) this.#chains.delete(key);
    });
  }

  /** Resolves once every Event recorded so far was sent (or failed). */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #allowed(object: string, now: number): boolean {
    let bucket = this.#buckets.get(object);
    if (!bucket) bucket = new Bucket(this.#perObject.burst, this.#perObject.refillMs, now);
    remember(this.#buckets, object, bucket, this.#maxTracked);
    return bucket.take(now) && this.#overall.take(now);
  }

  async #create(subject: EventSubject, s: Series): Promise<void> {
    const now = this.#now();
    const count = s.count;
    // client-go's naming: <object>.<nanoseconds in hex>, unique per replica and instant.
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000);
    const eventName = `${subject.name.slice(0, 253 - 17)}.${nanos.toString(16)}`;
    const regarding: Record<string, string> = {
      apiVersion: subject.apiVersion,
      kind: subject.kind,
      namespace: subject.namespace,
      name: subject.name,
    };
    if (subject.uid) regarding.uid = subject.uid;
    if (subject.resourceVersion) regarding.resourceVersion = subject.resourceVersion;
    await this.#client.send(
      "POST",
      `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(subject.namespace)}/events`,
      {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: eventName, namespace: subject.namespace },
        eventTime: microTime(now),
        reportingController: this.#controller,
        reportingInstance: this.#instance,
        action: s.action,
        reason: s.reason,
        type: s.type,
        regarding,
        note: s.note,
        // Occurrences while the create was in flight: already a series.
        ...(count > 1 ? { series: { count, lastObservedTime: microTime(new Date(s.lastObserved)) } } : {}),
      },
    );
    s.name = eventName;
    s.sent = count;
    if (s.count > s.sent) await this.#patch(subject, s);
  }

  async #patch(subject: EventSubject, s: Series): Promise<void> {
    const count = s.count;
    if (count <= s.sent) return; // an earlier patch already carried this occurrence
    const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(subject.namespace)}/events/${s.name}`;
    try {
      await this.#client.send(
        "PATCH",
        path,
        { series: { count, lastObservedTime: microTime(new Date(s.lastObserved)) }, note: s.note },
        "application/merge-patch+json",
      );
      s.sent = count;
    } catch (err) {
      // The API server deletes Events after their TTL (1 h by default): start over.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      s.name = undefined;
      s.count = 1;
      s.sent = 0;
      await this.#create(subject, s);
    }
  }
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, "000Z");
}

function name(s: EventSubject): Record<string, unknown> {
  return { kind: s.kind, namespace: s.namespace, name: s.name };
}
