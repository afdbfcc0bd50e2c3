// The Gateway API's ReferenceGrant (gateway.networking.k8s.io), which Sluice reads but does
// not define: its CRD comes with the Gateway API, so this is only the part compile reads.
// A grant lives in the namespace that is referred to and says which kinds in which
// namespaces may refer to which of its objects (all of a kind, or one by name).

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** The version the operator watches: served by every Gateway API release since v0.6. */
export const REFERENCE_GRANT_API_VERSION = `${GATEWAY_API_GROUP}/v1beta1`;
/** Versions compile reads: the same schema under each. */
export const REFERENCE_GRANT_API_VERSIONS = [
  REFERENCE_GRANT_API_VERSION,
  `${GATEWAY_API_GROUP}/v1`,
  `${GATEWAY_API_GROUP}/v1alpha2`,
] as const;

export interface ReferenceGrantFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceGrantTo {
  group: string;
  kind: string;
  name?: string;
}

export interface ReferenceGrantSpec {
  from: ReferenceGrantFrom[];
  to: ReferenceGrantTo[];
}
