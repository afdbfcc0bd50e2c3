// In a cluster: the snapshot the operator published, watched in its Secret. The gateway
// needs read access to that one Secret only (a field selector on its name), and keeps
// serving the last good snapshot when the API server or the operator is away.
import {
  KubeConfig,
  type KubernetesListObject,
  ListWatch,
  type V1Secret,
  Watch,
} from "@kubernetes/client-node";
import { ApiClient } from "../../../operator/src/kubernetes/api-client.ts";
import { decodeSnapshot } from "../snapshot/secret-codec.ts";

export interface SecretSourceOptions {
  namespace: string;
  name: string;
  kubeconfig: string | undefined;
  onSnapshot: (candidate: unknown, source: string) => void;
  onError: (err: unknown) => void;
}

export function watchSnapshotSecret(o: SecretSourceOptions): { stop(): Promise<void> } {
  const kc = new KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  const path = `/api/v1/namespaces/${o.namespace}/secrets`;
  const selector = `metadata.name=${o.name}`;
  const client = new ApiClient(kc);
  const list = () =>
    client.send<KubernetesListObject<V1Secret>>(
      "GET",
      `${path}?fieldSelector=${encodeURIComponent(selector)}`,
    );
  const source = `secret ${o.namespace}/${o.name}`;
  const informer = new ListWatch<V1Secret>(path, new Watch(kc), list, false, undefined, selector);
  const apply = (secret: V1Secret) => {
    try {
      o.onSnapshot(decodeSnapshot(secret.data), source);
    } catch (err) {
      o.onError(err);
    }
  };
  informer.on("add", apply);
  informer.on("update", apply);
  informer.on("error", o.onError);
  void informer.start().catch(o.onError);
  return { stop: () => informer.stop() };
}
