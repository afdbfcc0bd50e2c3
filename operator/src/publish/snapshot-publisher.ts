// Publishes the snapshot into its Secret, so gateways start and serve from it even while
// the operator is down. Writes only when the version changed.

import type { Snapshot } from "../../../gateway/src/snapshot/schema.ts";
import {
  encodeSnapshot,
  SNAPSHOT_SECRET_KEY,
  SNAPSHOT_VERSION_ANNOTATION,
} from "../../../gateway/src/snapshot/secret-codec.ts";
import { type ApiClient, ApiError } from "../kubernetes/api-client.ts";

interface SecretObject {
  metadata: { resourceVersion?: string; annotations?: Record<string, string> };
}

export class SnapshotPublisher {
  readonly #client: ApiClient;
  readonly #namespace: string;
  readonly #name: string;
  #published: string | undefined;

  constructor(client: ApiClient, namespace: string, name: string) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
  }

  /** Writes the snapshot unless the Secret already holds this version; true when written. */
  async publish(snapshot: Snapshot): Promise<boolean> {
    if (this.#published === snapshot.version) return false;
    const path = `/api/v1/namespaces/${this.#namespace}/secrets`;
    let current: SecretObject | undefined;
    try {
      current = await this.#client.send<SecretObject>("GET", `${path}/${this.#name}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    if (current?.metadata.annotations?.[SNAPSHOT_VERSION_ANNOTATION] === snapshot.version) {
      this.#published = snapshot.version;
      return false;
    }
    const body = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name: this.#name,
        namespace: this.#namespace,
        labels: { "app.kubernetes.io/part-of": "sluice", "app.kubernetes.io/component": "snapshot" },
        annotations: { [SNAPSHOT_VERSION_ANNOTATION]: snapshot.version },
        ...(current?.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      data: { [SNAPSHOT_SECRET_KEY]: encodeSnapshot(snapshot) },
    };
    if (current) await this.#client.send("PUT", `${path}/${this.#name}`, body);
    else await this.#client.send("POST", path, body);
    this.#published = snapshot.version;
    return true;
  }
}
