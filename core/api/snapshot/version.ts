// A snapshot's version is the SHA-256 of its canonical JSON (object keys sorted), so
// equal configurations get equal versions on every replica and every operator.
import { createHash } from "node:crypto";
import type { Snapshot, SnapshotBody } from "./schema.ts";

/** JSON with every object's keys in sorted order, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  // The replacer hands JSON.stringify a key-sorted copy of each object; the native
  // serialiser then does the rest, several times faster than building the text by hand.
  return JSON.stringify(value, sortKeys) ?? "null";
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(record).sort()) sorted[k] = record[k];
  return sorted;
}

export function snapshotVersion(body: SnapshotBody): string {
  return `sha256:${createHash("sha256").update(canonicalJson(body)).digest("hex")}`;
}

export function withVersion(body: SnapshotBody): Snapshot {
  return { ...body, version: snapshotVersion(body) };
}
