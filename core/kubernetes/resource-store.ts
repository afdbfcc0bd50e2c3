// The operator's view of the cluster: one informer (informer.ts: list + watch, restarted
// with backoff) per kind the compiler reads, all namespaces.
// Objects in list responses carry no apiVersion/kind, so the store stamps them: compile
// dispatches on kind.
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION } from "../api/common.ts";
import { KINDS } from "../api/kinds.ts";
import type { ApiClient } from "./api-client.ts";
import { createInformer, type Informer } from "./informer.ts";

interface Watched {
  apiVersion: string;
  kind: string;
  path: string;
}

export const WATCHED: Watched[] = [
  ...KINDS.map((k) => ({ apiVersion: API_VERSION, kind: k.kind, path: `/apis/${API_VERSION}/${k.plural}` })),
  { apiVersion: "v1", kind: "Secret", path: "/api/v1/secrets" },
  { apiVersion: "v1", kind: "Service", path: "/api/v1/services" },
  {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    path: "/apis/discovery.k8s.io/v1/endpointslices",
  },
  // Optional: without the Gateway API's CRD it lists as empty (optional-kinds.ts).
  {
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    kind: "ReferenceGrant",
    path: "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
  },
];

export class ResourceStore {
  readonly #informers = new Map<string, { watched: Watched; informer: Informer<KubernetesObject> }>();
  readonly #client: ApiClient;
  /** kind/namespace/name → metadata.generation last seen, for the sluice kinds. */
  readonly #generations = new Map<string, number | undefined>();

  #specChanged(kind: string, obj: KubernetesObject): boolean {
    const key = `${kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
    const generation = obj.metadata?.generation;
    const changed =
      !this.#generations.has(key) || this.#generations.get(key) !== generation || generation === undefined;
    this.#generations.set(key, generation);
    return changed;
  }

  constructor(
    client: ApiClient,
    onChange: () => void,
    onError: (kind: string, err: unknown) => void,
    onListed: (kind: string) => void = () => {},
  ) {
    this.#client = client;
    for (const watched of WATCHED) {
      const informer = createInformer<KubernetesObject>(
        client,
        watched.path,
        {},
        {
          add: (obj) => {
            this.#specChanged(watched.kind, obj);
            onChange();
          },
          delete: (obj) => {
            this.#generations.delete(`${watched.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`);
            onChange();
          },
          update: (obj) => {
            // Our own status writes come back as updates of the sluice kinds; their generation
            // is unchanged, and compile reads nothing that changed: no recompile for them.
            if (watched.apiVersion === API_VERSION && !this.#specChanged(watched.kind, obj)) return;
            onChange();
          },
          synced: () => {
            onListed(watched.kind);
            onChange();
          },
          error: (err) => onError(watched.kind, err),
        },
      );
      this.#informers.set(watched.kind, { watched, informer });
    }
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

  /** Every cached object, stamped with its apiVersion and kind. */
  objects(): KubernetesObject[] {
    const out: KubernetesObject[] = [];
    for (const { watched, informer } of this.#informers.values()) {
      for (const o of informer.list()) out.push({ ...o, apiVersion: watched.apiVersion, kind: watched.kind });
    }
    return out;
  }

  /** The cached object, for the status writer's current state. */
  get(kind: string, namespace: string, name: string): KubernetesObject | undefined {
    return this.#informers.get(kind)?.informer.get(name, namespace);
  }

  get client(): ApiClient {
    return this.#client;
  }
}
