// One way to watch a kind: client-node's ListWatch (list, then watch, cache), plus what it
// does not do itself — restart after a failed list or watch, with backoff (200 ms doubling
// to 5 s, jittered so replicas do not return in step), and knowing whether the cache has ever been filled by a list.
// A restart watches on from the last resourceVersion seen, so every event since — deletes
// included — arrives; when that version is too old (410 Gone, as after an API server
// restart) ListWatch relists and reports the objects that vanished as deletes.
// Used by the operator's store, its gateway-report watch and the gateway's snapshot watch.
import { type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { ApiClient } from "./api-client.ts";

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

/** A 429 from a list (ApiError.status) or from a watch (client-node's statusCode). */
function tooManyRequests(err: unknown): boolean {
  const e = err as { status?: unknown; statusCode?: unknown } | undefined;
  return e?.status === 429 || e?.statusCode === 429;
}

export function createInformer<T extends KubernetesObject>(
  client: ApiClient,
  path: string,
  selectors: { labelSelector?: string; fieldSelector?: string },
  handlers: InformerHandlers<T>,
): Informer<T> {
  const query = new URLSearchParams();
  if (selectors.labelSelector) query.set("labelSelector", selectors.labelSelector);
  if (selectors.fieldSelector) query.set("fieldSelector", selectors.fieldSelector);
  const listPath = query.size > 0 ? `${path}?${query}` : path;
  let synced = false;
  const list = async () => {
    const answer = await client.send<KubernetesListObject<T>>("GET", listPath);
    synced = true;
    // ListWatch fills its cache right after this resolves, before any timer can run, so a
    // handler that schedules work sees the whole list.
    handlers.synced?.();
    return answer;
  };
  const informer = new ListWatch<T>(
    path,
    new Watch(client.kubeConfig),
    list,
    false,
    selectors.labelSelector,
    selectors.fieldSelector,
  );
  if (handlers.add) informer.on("add", handlers.add);
  if (handlers.update) informer.on("update", handlers.update);
  if (handlers.delete) informer.on("delete", handlers.delete);
  let stopped = false;
  let delayMs = FIRST_DELAY_MS;
  let startedAt = performance.now();
  // ListWatch's own "connect" fires before each attempt, even one that fails at once, so it
  // cannot tell a healthy watch: the delay resets only after one that lasted a while.
  const restart = () => {
    if (stopped) return;
    startedAt = performance.now();
    informer.start().catch(handlers.error);
  };
  informer.on("error", (err) => {
    handlers.error(err);
    if (stopped) return;
    if (performance.now() - startedAt > HEALTHY_MS) delayMs = FIRST_DELAY_MS;
    if (tooManyRequests(err)) {
      // The server is up but busy, as while a restarted one fills its watch caches: it asks
      // for a retry after about a second, and backing off further would only add delay.
      setTimeout(restart, RETRY_AFTER_MS * (0.75 + Math.random() * 0.5)).unref();
      return;
    }
    setTimeout(restart, delayMs * (0.75 + Math.random() * 0.5)).unref();
    delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
  });
  return {
    start: () => {
      startedAt = performance.now();
      return informer.start().catch(handlers.error);
    },
    stop: () => {
      stopped = true;
      return informer.stop();
    },
    get synced() {
      return synced;
    },
    list: (namespace) => informer.list(namespace),
    get: (name, namespace) => informer.get(name, namespace),
  };
}
