// One way to watch a kind: client-node's ListWatch (list, then watch, cache), plus what it
// does not do itself — restart after a failed list or watch, with backoff (200 ms doubling
// to 30 s, reset on connect). A restart relists, so nothing is lost while it was down,
// deletes included. Used by the operator's store, its gateway-report watch and the
// gateway's snapshot-Secret watch.
import { type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { ApiClient } from "./api-client.ts";

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T) => void;
  delete?: (obj: T) => void;
  /** A failed list or watch; the informer restarts on its own after it. */
  error: (err: unknown) => void;
}

export interface Informer<T> {
  /** Starts listing and watching; resolves after the first list (or its failure, then retried). */
  start(): Promise<void>;
  stop(): Promise<void>;
  list(namespace?: string): ReadonlyArray<T>;
  get(name: string, namespace?: string): T | undefined;
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
  const informer = new ListWatch<T>(
    path,
    new Watch(client.kubeConfig),
    () => client.send<KubernetesListObject<T>>("GET", listPath),
    false,
    selectors.labelSelector,
    selectors.fieldSelector,
  );
  if (handlers.add) informer.on("add", handlers.add);
  if (handlers.update) informer.on("update", handlers.update);
  if (handlers.delete) informer.on("delete", handlers.delete);
  let stopped = false;
  let delayMs = 200;
  informer.on("connect", () => {
    delayMs = 200;
  });
  informer.on("error", (err) => {
    handlers.error(err);
    if (stopped) return;
    setTimeout(() => {
      if (!stopped) informer.start().catch(handlers.error);
    }, delayMs).unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  });
  return {
    start: () => informer.start().catch(handlers.error),
    stop: () => {
      stopped = true;
      return informer.stop();
    },
    list: (namespace) => informer.list(namespace),
    get: (name, namespace) => informer.get(name, namespace),
  };
}
