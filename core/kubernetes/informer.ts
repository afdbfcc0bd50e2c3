// One way to watch a kind: list, then watch from the list's resourceVersion, keeping a
// cache — what client-go's reflector does, written here because client-node's ListWatch
// brings the library's whole generated API into memory (kube-access.ts).
// A failed list or watch is reported and retried with backoff (200 ms doubling to 5 s,
// jittered so replicas do not return in step); a watch the server ends (its timeout) goes
// on at once from the last resourceVersion seen, so every event since — deletes included —
// arrives. When that version is too old (410 Gone, as after an API server restart) the
// informer relists and reports the objects that vanished meanwhile as deletes.
// Used by the operator's store, its gateway-report watch and the gateway's snapshot watch.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { type ApiClient, METADATA_ONLY } from "./api-client.ts";

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T) => void;
  delete?: (obj: T) => void;
  /** A list succeeded: the cache holds the whole collection (again). */
  synced?: () => void;
  /** A failed list or watch; the informer restarts on its own after it. */
  error: (err: unknown) => void;
}

export interface Informer<T> {
  /** Starts listing and watching; resolves after the first list (or its failure, then retried). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once a list has succeeded: before that, an empty cache means "not known yet". */
  readonly synced: boolean;
  list(namespace?: string): ReadonlyArray<T>;
  get(name: string, namespace?: string): T | undefined;
}

const FIRST_DELAY_MS = 200;
// Low enough that a returning API server is noticed within seconds; one operator and a
// gateway replica keep only a few watches, so even hundreds of replicas retrying at this
// pace are a light load.
const MAX_DELAY_MS = 5_000;
/** A watch that ran this long before failing was healthy: the next restart is quick again. */
const HEALTHY_MS = 60_000;

/** What the API server's 429 answers carry as Retry-After (watch errors do not expose it). */
const RETRY_AFTER_MS = 1_000;

/** The server ends each watch after this long (randomised so many watchers do not return in step). */
const WATCH_SECONDS_MIN = 300;
const WATCH_SECONDS_MAX = 600;
/**
 * No byte for this long: the connection died without a word (a NAT or a node gone), so it
 * is dropped and the watch restarted from where it was. The API server sends a bookmark
 * about every minute on a watch that asked for them; on one that does not, a quiet watch
 * is merely restarted (no relist).
 */
const WATCH_IDLE_MS = 150_000;

/** Objects per list request (client-go's reflector pages by 500 too). */
const LIST_PAGE = 500;

/** How often an optional kind whose CRD is not installed is listed again. */
const ABSENT_POLL_MS = 10_000;

/** A watch event saying our resourceVersion is too old to watch from: relist. */
class Gone extends Error {}

function gone(err: unknown): boolean {
  return err instanceof Gone || (err as { status?: unknown } | undefined)?.status === 410;
}

function tooManyRequests(err: unknown): boolean {
  return (err as { status?: unknown } | undefined)?.status === 429;
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; metadata?: { resourceVersion?: string } };
}

export interface InformerOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** List and watch each object's metadata only (api-client.ts METADATA_ONLY). */
  metadataOnly?: boolean;
  /**
   * Applied to every object before it is cached or handed to a handler (client-go's
   * transform): drop what no one reads (managedFields, annotations), so it is not kept.
   */
  transform?: (obj: T) => T;
  /**
   * A kind whose CRD may not be installed (the Gateway API's ReferenceGrant): a list that
   * answers 404 counts as an empty, listed collection — one absent CRD must not hold back
   * everything that waits for every kind to be listed — and is tried again every
   * `absentPollMs` (default 10 s) without a watch, so the kind is picked up once installed.
   */
  optional?: boolean;
  absentPollMs?: number;
}

export function createInformer<T extends KubernetesObject>(
  client: ApiClient,
  path: string,
  options: InformerOptions<T>,
  handlers: InformerHandlers<T>,
): Informer<T> {
  const accept = options.metadataOnly ? METADATA_ONLY : undefined;
  const transform = options.transform ?? ((obj: T) => obj);
  const query = new URLSearchParams();
  if (options.labelSelector) query.set("labelSelector", options.labelSelector);
  if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
  /** namespace ("" for cluster-scoped) → name → object */
  const cache = new Map<string, Map<string, T>>();
  let resourceVersion = "";
  let synced = false;
  let stopped = false;
  let abort = new AbortController();
  let loop: Promise<void> | undefined;
  let firstListed: () => void = () => {};
  const firstList = new Promise<void>((resolve) => {
    firstListed = resolve;
  });

  const put = (obj: T) => {
    const ns = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    let names = cache.get(ns);
    if (!names) {
      names = new Map();
      cache.set(ns, names);
    }
    const found = names.get(name);
    names.set(name, obj);
    if (!found) handlers.add?.(obj);
    else if (found.metadata?.resourceVersion !== obj.metadata?.resourceVersion) handlers.update?.(obj);
  };
  const remove = (obj: T) => {
    const ns = obj.metadata?.namespace ?? "";
    const names = cache.get(ns);
    if (!names?.delete(obj.metadata?.name ?? "")) return;
    if (names.size === 0) cache.delete(ns);
    handlers.delete?.(obj);
  };

  /** An optional kind whose CRD is not installed (its last list answered 404). */
  let absent = false;
  const relist = async () => {
    const items: T[] = [];
    let listVersion = "";
    const wasAbsent = absent;
    try {
      // Page by page, as client-go's reflector lists: a cluster's 10,000 Secrets never sit in
      // memory as one response body and its parse at once, only LIST_PAGE of them. Every page
      // is read at the first one's resourceVersion (the continue token carries it); a token
      // that expired meanwhile answers 410, and the informer lists again from the start.
      let next: string | undefined;
      do {
        const q = new URLSearchParams(query);
        q.set("limit", String(LIST_PAGE));
        if (next) q.set("continue", next);
        const page = await client.send<KubernetesListObject<T>>(
          "GET",
          `${path}?${q}`,
          undefined,
          undefined,
          accept?.list,
        );
        for (const obj of page.items ?? []) items.push(transform(obj));
        listVersion = page.metadata?.resourceVersion ?? listVersion;
        // client-node's type names it _continue; the API server's JSON says continue.
        next = (page.metadata as { continue?: string } | undefined)?.continue || undefined;
      } while (next);
      absent = false;
    } catch (err) {
      if (!options.optional || (err as { status?: unknown } | undefined)?.status !== 404) throw err;
      items.length = 0;
      absent = true;
    }
    const listed = new Map<string, Set<string>>();
    for (const obj of items) {
      const ns = obj.metadata?.namespace ?? "";
      let names = listed.get(ns);
      if (!names) {
        names = new Set();
        listed.set(ns, names);
      }
      names.add(obj.metadata?.name ?? "");
    }
    // What vanished while we were not watching is a delete.
    for (const [ns, names] of cache) {
      for (const [name, obj] of names) if (!listed.get(ns)?.has(name)) remove(obj);
    }
    for (const obj of items) put(obj);
    resourceVersion = listVersion;
    // Still absent: nothing new to say (no recompile every poll).
    const news = !(synced && wasAbsent && absent);
    synced = true;
    if (news) handlers.synced?.();
  };

  const onEvent = (raw: unknown) => {
    const event = raw as WatchEvent<T>;
    if (event.type === "ERROR") {
      if (event.object.code === 410) throw new Gone("resourceVersion too old");
      // Newer than the server has (an etcd restored from a backup): relist, as client-go does.
      if (/too large resource version/i.test(String((event.object as { message?: unknown }).message)))
        throw new Gone("resourceVersion too large");
      throw Object.assign(new Error(`watch ${path}: ${JSON.stringify(event.object)}`), {
        status: event.object.code,
      });
    }
    if (event.type === "ADDED" || event.type === "MODIFIED") put(transform(event.object));
    else if (event.type === "DELETED") remove(event.object);
    resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
  };

  const watchOnce = () => {
    const seconds = WATCH_SECONDS_MIN + Math.floor(Math.random() * (WATCH_SECONDS_MAX - WATCH_SECONDS_MIN));
    const q = new URLSearchParams(query);
    q.set("watch", "true");
    q.set("resourceVersion", resourceVersion);
    q.set("allowWatchBookmarks", "true");
    q.set("timeoutSeconds", String(seconds));
    return client.watch(`${path}?${q}`, onEvent, WATCH_IDLE_MS, abort.signal, accept?.watch);
  };

  const run = async () => {
    let delayMs = FIRST_DELAY_MS;
    while (!stopped) {
      const startedAt = performance.now();
      try {
        if (!resourceVersion) {
          try {
            await relist();
          } finally {
            firstListed();
          }
        }
        if (absent) {
          await pause(options.absentPollMs ?? ABSENT_POLL_MS);
          continue; // resourceVersion is "": the next turn lists again
        }
        await watchOnce();
        // The server ended the watch (its timeout): watch on from where it stopped. One that
        // ends at once again and again (a proxy cutting streams) is paced like a failure.
        if (performance.now() - startedAt > 1_000) {
          delayMs = FIRST_DELAY_MS;
          continue;
        }
      } catch (err) {
        if (stopped) return;
        if (gone(err)) {
          resourceVersion = "";
          continue;
        }
        handlers.error(err);
        if (performance.now() - startedAt > HEALTHY_MS) delayMs = FIRST_DELAY_MS;
        if (tooManyRequests(err)) {
          // The server is up but busy, as while a restarted one fills its watch caches: it
          // asks for a retry after about a second, and backing off further would only add delay.
          await pause(RETRY_AFTER_MS);
          continue;
        }
      }
      await pause(delayMs);
      delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
    }
  };
  const pause = (ms: number) =>
    sleep(ms * (0.75 + Math.random() * 0.5), undefined, { signal: abort.signal }).catch(() => {});

  return {
    start: () => {
      stopped = false;
      abort = new AbortController();
      loop ??= run().finally(() => {
        loop = undefined;
      });
      return firstList;
    },
    stop: async () => {
      stopped = true;
      abort.abort();
      await loop;
    },
    get synced() {
      return synced;
    },
    list: (namespace) => {
      if (namespace) return [...(cache.get(namespace)?.values() ?? [])];
      const all: T[] = [];
      for (const names of cache.values()) for (const obj of names.values()) all.push(obj);
      return all;
    },
    get: (name, namespace) => cache.get(namespace ?? "")?.get(name),
  };
}
