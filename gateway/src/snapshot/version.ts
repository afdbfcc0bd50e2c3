// A snapshot's version is the SHA-256 of its canonical JSON (object keys sorted), so
// equal configurations get equal versions on every replica and every operator.
import { createHash } from "node:crypto";
import type { Snapshot, SnapshotBody } from "./schema.ts";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

export function snapshotVersion(body: SnapshotBody): string {
  return `sha256:${createHash("sha256").update(canonicalJson(body)).digest("hex")}`;
}

export function withVersion(body: SnapshotBody): Snapshot {
  return { ...body, version: snapshotVersion(body) };
}
