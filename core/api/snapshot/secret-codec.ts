// How a snapshot travels in the cluster: a Secret (it carries key material, so never a
// ConfigMap) whose data key `snapshot.json.gz` is the gzipped JSON. Gzip keeps large
// configurations (10,000 routes and 10,000 API keys: 7.2 MiB of JSON, 0.6 MiB gzipped) in
// one Secret; past that, snapshot-chunks.ts spreads them over several (ADR 0007).
import { gunzipSync, gzipSync } from "node:zlib";
import type { Snapshot } from "./schema.ts";

export const SNAPSHOT_SECRET_KEY = "snapshot.json.gz";
export const SNAPSHOT_VERSION_ANNOTATION = "sluice.dev/snapshot-version";

export function encodeSnapshot(snapshot: Snapshot): string {
  return gzipSync(JSON.stringify(snapshot)).toString("base64");
}

/** The snapshot in a Secret's data (unvalidated: the loader checks schema and hash). */
export function decodeSnapshot(data: Record<string, string> | undefined): unknown {
  const encoded = data?.[SNAPSHOT_SECRET_KEY];
  if (!encoded) throw new Error(`the Secret has no ${SNAPSHOT_SECRET_KEY}`);
  return JSON.parse(gunzipSync(Buffer.from(encoded, "base64")).toString("utf8"));
}
