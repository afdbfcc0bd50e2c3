// A snapshot's version is the SHA-256 of its canonical JSON (object keys sorted), so
// equal configurations get equal versions on every replica and every operator.
import { createHash } from "node:crypto";
import type { Snapshot, SnapshotBody } from "./schema.ts";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${out.length > 1 ? "," : ""}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

export function snapshotVersion(body: SnapshotBody): string {
  return `sha256:${createHash("sha256").update(canonicalJson(body)).digest("hex")}`;
}

export function withVersion(body: SnapshotBody): Snapshot {
  return { ...body, version: snapshotVersion(body) };
}
