// How big a large world's snapshot is in the cluster, and what loading it costs a gateway
// (docs/adr/0007). No load is generated: one compile, then a fresh process that assembles
// the chunks and loads the snapshot as a gateway does.
//
//   node --max-old-space-size=8192 bench/snapshot-size.ts compile [routes] [keys] > /tmp/s.gz
//   node --expose-gc bench/snapshot-size.ts load /tmp/s.gz
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Snapshot } from "../core/api/snapshot/schema.ts";
import { decodeSnapshot } from "../core/api/snapshot/secret-codec.ts";
import { assembleSnapshot, CHUNK_BYTES, encodeSnapshotParts } from "../core/api/snapshot/snapshot-chunks.ts";
import { compileSnapshot } from "../core/compile/compile.ts";
import { SnapshotLoader } from "../gateway/src/snapshot/loader.ts";
import { world } from "./world.ts";

const MB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const [mode, arg1, arg2] = process.argv.slice(2);
if (mode === "compile") {
  const routes = Number(arg1 ?? 100_000);
  const keys = Number(arg2 ?? 100_000);
  const objects = world(routes, keys);
  const t0 = performance.now();
  const { snapshot } = compileSnapshot(objects, { apiKeyHashKey: "bench" });
  const compileMs = performance.now() - t0;
  const json = JSON.stringify(snapshot);
  const t1 = performance.now();
  const gz = gzipSync(json);
  const gzipMs = performance.now() - t1;
  const parts = encodeSnapshotParts(snapshot, "sluice-snapshot");
  process.stderr.write(
    `${routes} routes, ${keys} API keys: ${snapshot.rules.length} rules, ${snapshot.apiKeys.keys.length} keys; ` +
      `compile ${compileMs.toFixed(0)} ms; JSON ${MB(json.length)}, gzipped ${MB(gz.length)} (gzip ${gzipMs.toFixed(0)} ms); ` +
      `${parts.chunks.length} chunks of ≤ ${CHUNK_BYTES / 1024} KiB\n`,
  );
  process.stdout.write(gz);
} else if (mode === "load") {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  // The chunks as a gateway receives them (the parsed snapshot used to cut them is dropped).
  const t0 = performance.now();
  const parts = (() => {
    const gz = readFileSync(arg1 ?? "/dev/stdin");
    return encodeSnapshotParts(JSON.parse(gunzipSync(gz).toString("utf8")) as Snapshot, "sluice-snapshot");
  })();
  const chunks = new Map(parts.chunks.map((c) => [c.name, c.data]));
  const setupMs = performance.now() - t0;
  gc();
  const before = process.memoryUsage();
  // Assembled and checked as the gateway does, then validated and built by its loader.
  const t1 = performance.now();
  const candidate =
    parts.kind === "chunked" ? assembleSnapshot(parts.manifest, chunks) : decodeSnapshot(parts.data);
  const assembleMs = performance.now() - t1;
  const t2 = performance.now();
  const loader = new SnapshotLoader({ auth: { hashKey: "bench" } });
  const ok = loader.load(candidate, "bench");
  const loadMs = performance.now() - t2;
  gc();
  const after = process.memoryUsage();
  process.stderr.write(
    `loaded=${ok} ${loader.status.lastRejected?.reason ?? ""}; assemble (digests, gunzip, parse) ${assembleMs.toFixed(0)} ms, ` +
      `validate + build ${loadMs.toFixed(0)} ms; after GC: RSS ${MB(after.rss)} (+${MB(after.rss - before.rss)}), ` +
      `heap ${MB(after.heapUsed)} (+${MB(after.heapUsed - before.heapUsed)}); ${parts.chunks.length} chunks; setup ${setupMs.toFixed(0)} ms\n`,
  );
  void [loader.current, chunks];
  process.exit(0);
} else {
  process.stderr.write("usage: bench/snapshot-size.ts compile [routes] [keys] > file | load file\n");
  process.exit(2);
}
