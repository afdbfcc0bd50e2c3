// ReDoS benchmark: what a hostile value costs the gateway's router when a route's path,
// header or query match is the catastrophic pattern (a+)+$ (issue 14 §3). The router runs
// user patterns on V8's linear-time engine; a backtracking engine would take time doubling
// with each character (shown for 20–26 characters; 1 KiB would never finish).
// Target: a 1 KiB hostile value adds under 1 ms to routing. Prints medians per lookup.
import { performance } from "node:perf_hooks";
import type { SnapshotRouteMatch } from "../core/api/snapshot/schema.ts";
import { Router } from "../gateway/src/runtime/router.ts";

const TARGET_MS = 1;
const ROUNDS = Number(process.env.BENCH_RUNS ?? 7);
const EVIL = "(a+)+$";

const match = (rule: string, path: SnapshotRouteMatch["path"], extra: Partial<SnapshotRouteMatch> = {}) =>
  ({ rule, path, headers: [], queryParams: [], ...extra }) as SnapshotRouteMatch;

const router = new Router(
  [
    {
      hostname: "*",
      routes: [
        match("path", { type: "RegularExpression", value: `/redos/${EVIL}` }),
        match(
          "header",
          { type: "PathPrefix", value: "/hdr" },
          {
            headers: [{ type: "RegularExpression", name: "x-evil", value: EVIL }],
          },
        ),
        match(
          "query",
          { type: "PathPrefix", value: "/qry" },
          {
            queryParams: [{ type: "RegularExpression", name: "q", value: EVIL }],
          },
        ),
        match("other", { type: "PathPrefix", value: "/" }),
      ],
    },
  ],
  (id) => id,
);

const KiB = "a".repeat(1024);
const request = (path: string, query = "", headers: Record<string, string> = {}) => ({
  host: "bench.local",
  path,
  method: "GET",
  headers,
  query,
});
const cases: [string, ReturnType<typeof request>][] = [
  ["benign path (/users/42)", request("/users/42")],
  ["benign 1 KiB path, matches", request(`/redos/${KiB}`)],
  ["hostile 1 KiB path", request(`/redos/${KiB}!`)],
  ["benign header", request("/hdr", "", { "x-evil": "aaaa" })],
  ["hostile 1 KiB header", request("/hdr", "", { "x-evil": `${KiB}!` })],
  ["hostile 1 KiB query", request("/qry", `?q=${KiB}!`)],
];

/** Median time of one router lookup, in ms. */
function perLookup(req: ReturnType<typeof request>): number {
  const n = 2000;
  const times: number[] = [];
  for (let i = 0; i < 200; i++) router.match(req);
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) router.match(req);
    times.push((performance.now() - start) / n);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

const results = new Map(cases.map(([name, req]) => [name, perLookup(req)]));
const benign = results.get("benign path (/users/42)") ?? 0;
for (const [name, ms] of results)
  console.log(`redos: ${name.padEnd(28)} ${(ms * 1000).toFixed(2).padStart(8)} µs`);
const worst = Math.max(
  ...["hostile 1 KiB path", "hostile 1 KiB header", "hostile 1 KiB query"].map((n) => results.get(n) ?? 0),
);
const added = worst - benign;
console.log(
  `redos: worst hostile adds ${(added * 1000).toFixed(1)} µs to a lookup; ratio to the 1 ms target ${(added / TARGET_MS).toFixed(3)} (≤ 1.000 passes)`,
);

// For contrast: the same pattern on the backtracking engine, with short values only.
const backtracking = new RegExp(`^(?:/redos/${EVIL})$`, "u");
backtracking.test("/redos/aaaa!");
for (const n of [20, 22, 24, 26]) {
  const start = performance.now();
  backtracking.test(`/redos/${"a".repeat(n)}!`);
  console.log(`redos: backtracking engine, ${n} characters: ${(performance.now() - start).toFixed(1)} ms`);
}
if (added > TARGET_MS) process.exitCode = 1;
