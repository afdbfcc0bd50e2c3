// In a cluster: the snapshot the operator published, watched in its Secret. The gateway
// needs read access to that one Secret only (a field selector on its name), and keeps
// serving the last good snapshot when the API server or the operator is away.
import type { V1Secret } from "@kubernetes/client-node";
import { decodeSnapshot } from "../api/snapshot/secret-codec.ts";
import type { ApiClient } from "../kubernetes/api-client.ts";
import { createInformer } from "../kubernetes/informer.ts";

export interface SecretSourceOptions {
  client: ApiClient;
  namespace: string;
  name: string;
  onSnapshot: (candidate: unknown, source: string) => void;
  onError: (err: unknown) => void;
}

export function watchSnapshotSecret(o: SecretSourceOptions): { stop(): Promise<void> } {
  const source = `secret ${o.namespace}/${o.name}`;
  const apply = (secret: V1Secret) => {
    try {
      o.onSnapshot(decodeSnapshot(secret.data), source);
    } catch (err) {
      o.onError(err);
    }
  };
  const informer = createInformer<V1Secret>(
    o.client,
    `/api/v1/namespaces/${o.namespace}/secrets`,
    { fieldSelector: `metadata.name=${o.name}` },
    { add: apply, update: apply, error: o.onError },
  );
  void informer.start();
  return { stop: () => informer.stop() };
}
