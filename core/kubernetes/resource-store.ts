// The operator's view of the cluster: one informer (informer.ts: list + watch, restarted
// with backoff) per kind the compiler reads, all namespaces.
// Objects in list responses carry no apiVersion/kind, so the store stamps them: compile
// dispatches on kind.
//
// Bounded memory and work (issue 18): the cluster's Secrets are watched as metadata only,
// and the data of just those compile reads is fetched (GET) and kept; a change to a Secret,
// Service or EndpointSlice that the last compile did not read starts no compile. compile
// reports what it looked up (CompileResult.references, found or not); the reconcile loop
// hands that to `track`, and `fetchReferenced` brings the data of Secrets it asked for that
// exist but are not held yet, or changed since (then the loop compiles again).
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION } from "../api/common.ts";
import { KINDS } from "../api/kinds.ts";
import { type ApiClient, ApiError } from "./api-client.ts";
import { createInformer, type Informer } from "./informer.ts";

interface Watched {
  apiVersion: string;
  kind: string;
  path: string;
  /** Listed and watched as metadata only; the data compile reads is fetched by name. */
  metadataOnly?: boolean;
  /** A change recompiles only when compile read this object (core kinds); else always. */
  referenced?: boolean;
  /** Its CRD may be absent: then it lists as empty (informer.ts `optional`). */
  optional?: boolean;
}

export const WATCHED: Watched[] = [
  ...KINDS.map((k) => ({ apiVersion: API_VERSION, kind: k.kind, path: `/apis/${API_VERSION}/${k.plural}` })),
  { apiVersion: "v1", kind: "Secret", path: "/api/v1/secrets", metadataOnly: true, referenced: true },
  { apiVersion: "v1", kind: "Service", path: "/api/v1/services", referenced: true },
  {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    path: "/apis/discovery.k8s.io/v1/endpointslices",
    referenced: true,
  },
  // Without the Gateway API's CRD it lists as empty (nothing granted: cross-namespace
  // references stay refused, which fails closed) and is looked for again every 10 s.
  {
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    kind: "ReferenceGrant",
    path: "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
    optional: true,
  },
];

/** What compile reads of an EndpointSlice is its Service's slices: keyed by that Service. */
const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** "Kind/namespace/name" as compile reports what it read; EndpointSlices by their Service. */
function referenceOf(kind: string, obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ?? "";
  const name = kind === "EndpointSlice" ? obj.metadata?.labels?.[SERVICE_NAME_LABEL] : obj.metadata?.name;
  return `${kind}/${ns}/${name ?? ""}`;
}

/**
 * An object without what neither compile nor the status writer reads: managedFields, and
 * annotations (kubectl's last-applied one holds a whole copy of the object, a Secret's data
 * included) — together often more than the object itself.
 */
function withoutBookkeeping(obj: KubernetesObject): KubernetesObject {
  const { managedFields: _m, annotations: _a, ...metadata } = obj.metadata ?? {};
  return { ...obj, metadata };
}

/** A Secret's metadata as kept: who it is and which version; its data is fetched when read. */
function secretIdentity(obj: KubernetesObject): KubernetesObject {
  const { name, namespace, resourceVersion, uid } = obj.metadata ?? {};
  return { metadata: { name, namespace, resourceVersion, uid } };
}

/** Referenced Secrets fetched at once (as many connections to the API server). */
const FETCH_CONCURRENCY = 8;

export class ResourceStore {
  readonly #informers = new Map<string, { watched: Watched; informer: Informer<KubernetesObject> }>();
  readonly #client: ApiClient;
  readonly #onChange: () => void;
  /** kind/namespace/name → metadata.generation last seen, for the sluice kinds. */
  readonly #generations = new Map<string, number | undefined>();
  /** What the last compile read; undefined before the first: every change counts. */
  #references: Set<string> | undefined;
  /** "namespace/name" → the whole Secret, for those compile reads. */
  readonly #secrets = new Map<string, KubernetesObject>();

  #specChanged(kind: string, obj: KubernetesObject): boolean {
    const key = `${kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
    const generation = obj.metadata?.generation;
    const changed =
      !this.#generations.has(key) || this.#generations.get(key) !== generation || generation === undefined;
    this.#generations.set(key, generation);
    return changed;
  }

  /** A change of a core object matters when compile read it (or nothing compiled yet). */
  #read(kind: string, obj: KubernetesObject): boolean {
    return this.#references === undefined || this.#references.has(referenceOf(kind, obj));
  }

  constructor(
    client: ApiClient,
    onChange: () => void,
    onError: (kind: string, err: unknown) => void,
    onListed: (kind: string) => void = () => {},
  ) {
    this.#client = client;
    this.#onChange = onChange;
    for (const watched of WATCHED) {
      const { kind } = watched;
      const informer = createInformer<KubernetesObject>(
        client,
        watched.path,
        {
          ...(watched.metadataOnly ? { metadataOnly: true } : {}),
          ...(watched.optional ? { optional: true } : {}),
          transform: kind === "Secret" ? secretIdentity : withoutBookkeeping,
        },
        {
          add: (obj) => {
            if (!watched.referenced) this.#specChanged(kind, obj);
            if (kind === "Secret") this.#secretChanged(obj);
            else if (!watched.referenced || this.#read(kind, obj)) onChange();
          },
          delete: (obj) => {
            if (kind === "Secret") {
              const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
              if (this.#secrets.delete(key)) return this.#onChange();
            }
            if (!watched.referenced)
              this.#generations.delete(`${kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`);
            if (!watched.referenced || this.#read(kind, obj)) onChange();
          },
          update: (obj) => {
            // Our own status writes come back as updates of the sluice kinds; their generation
            // is unchanged, and compile reads nothing that changed: no recompile for them.
            if (watched.apiVersion === API_VERSION && !this.#specChanged(kind, obj)) return;
            if (kind === "Secret") this.#secretChanged(obj);
            else if (!watched.referenced || this.#read(kind, obj)) onChange();
          },
          synced: () => {
            onListed(kind);
            onChange();
          },
          error: (err) => onError(kind, err),
        },
      );
      this.#informers.set(kind, { watched, informer });
    }
  }

  /**
   * A Secret appeared or changed (metadata only). One compile reads (or whose data is held)
   * is compiled again — the loop fetches its data first (`fetchReferenced`); any other is
   * none of Sluice's business. Fetching only there, never from an event, keeps one rule:
   * held data is current when its resourceVersion is the informer's.
   */
  #secretChanged(meta: KubernetesObject) {
    const key = `${meta.metadata?.namespace}/${meta.metadata?.name}`;
    if (this.#secrets.has(key) || this.#read("Secret", meta)) this.#onChange();
  }

  /** The Secret's metadata as the informer has it now; undefined when it is gone. */
  #secretMeta(key: string): KubernetesObject | undefined {
    const [namespace = "", name = ""] = key.split("/");
    return this.#informers.get("Secret")?.informer.get(name, namespace);
  }

  /** GETs one Secret into the held ones; gone (404, or deleted meanwhile): not held. */
  async #fetch(key: string): Promise<void> {
    const [namespace, name] = key.split("/");
    let secret: KubernetesObject | undefined;
    try {
      secret = await this.#client.send<KubernetesObject>(
        "GET",
        `/api/v1/namespaces/${namespace}/secrets/${name}`,
      );
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    // The GET and the watch are separate connections: a delete can arrive before this
    // answer. Data of a Secret the informer no longer has is never kept.
    if (secret && this.#secretMeta(key)) {
      this.#secrets.set(key, { ...withoutBookkeeping(secret), apiVersion: "v1", kind: "Secret" });
    } else this.#secrets.delete(key);
  }

  /**
   * What the last compile read: changes to other Secrets, Services and EndpointSlices
   * start no compile, and held Secrets it no longer reads are let go.
   */
  track(references: Iterable<string>) {
    this.#references = new Set(references);
    for (const key of this.#secrets.keys())
      if (!this.#references.has(`Secret/${key}`)) this.#secrets.delete(key);
  }

  /**
   * Fetches the Secrets among `references` that exist but whose data is not held, or is
   * held at another resourceVersion than the informer's (changed since); true when any was
   * fetched (compile again). Throws when one cannot be read.
   */
  async fetchReferenced(references: Iterable<string>): Promise<boolean> {
    const wanted: string[] = [];
    for (const ref of references) {
      if (!ref.startsWith("Secret/")) continue;
      const key = ref.slice("Secret/".length);
      const meta = this.#secretMeta(key);
      if (!meta) {
        this.#secrets.delete(key);
        continue;
      }
      const held = this.#secrets.get(key);
      if (held?.metadata?.resourceVersion !== meta.metadata?.resourceVersion) wanted.push(key);
    }
    // A few at a time: one GET per Secret all at once opened a TLS connection for each (400
    // for 400 ApiKeys), and what their handshakes allocated stayed in the operator's heap.
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) await this.#fetch(wanted[next++] as string);
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, wanted.length) }, worker));
    return wanted.length > 0;
  }

  /** Starts every informer; one whose first list fails keeps retrying in the background. */
  async start() {
    await Promise.all([...this.#informers.values()].map(({ informer }) => informer.start()));
  }

  /**
   * True once every kind has been listed. Until then an object missing from the cache may
   * exist: compiling would turn "not listed yet" into "not found".
   */
  get synced(): boolean {
    for (const { informer } of this.#informers.values()) if (!informer.synced) return false;
    return true;
  }

  async stop() {
    await Promise.all([...this.#informers.values()].map(({ informer }) => informer.stop()));
  }

  /**
   * Every cached object compile may read, stamped with its apiVersion and kind; Secrets:
   * those held that the informer still has (a deleted one is gone at once, fetch or not).
   */
  objects(): KubernetesObject[] {
    const out: KubernetesObject[] = [];
    for (const [key, secret] of this.#secrets) if (this.#secretMeta(key)) out.push(secret);
    for (const { watched, informer } of this.#informers.values()) {
      if (watched.metadataOnly) continue;
      for (const o of informer.list()) out.push({ ...o, apiVersion: watched.apiVersion, kind: watched.kind });
    }
    return out;
  }

  /** The cached object, for the status writer's current state. */
  get(kind: string, namespace: string, name: string): KubernetesObject | undefined {
    if (kind === "Secret") return this.#secrets.get(`${namespace}/${name}`);
    return this.#informers.get(kind)?.informer.get(name, namespace);
  }

  get client(): ApiClient {
    return this.#client;
  }
}
