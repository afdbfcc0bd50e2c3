// Publishes the snapshot into its Secret, so gateways start and serve from it even while
// the operator is down. Writes only when the version changed.

import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_SECRET_KEY,
  SNAPSHOT_VERSION_ANNOTATION,
} from "../../../core/api/snapshot/secret-codec.ts";
import { snapshotProblems } from "../../../core/api/snapshot/validate.ts";
import { type ApiClient, ApiError } from "../../../core/kubernetes/api-client.ts";

interface SecretObject {
  metadata: { resourceVersion?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
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

  /**
   * The snapshot the Secret holds now — what the gateways serve, so the last good version of
   * every object — or undefined when there is none or it does not validate. Throws when the
   * API server cannot answer: compiling without it could drop what is kept at its last good.
   */
  async read(): Promise<Snapshot | undefined> {
    let secret: SecretObject;
    try {
      secret = await this.#client.send<SecretObject>(
        "GET",
        `/api/v1/namespaces/${this.#namespace}/secrets/${this.#name}`,
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
    let candidate: unknown;
    try {
      candidate = decodeSnapshot(secret.data);
    } catch {
      return undefined;
    }
    return snapshotProblems(candidate).length === 0 ? (candidate as Snapshot) : undefined;
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
