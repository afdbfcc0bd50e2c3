// What a gateway compiles at start must leave room in V8's map for `{}` (map-room-probe.ts
// says what happens without it). ajv's code optimisation used it all — a fresh `{}` per
// generated name — and in CPU-profiled gateways that met the full map, every
// process.nextTick, a few per proxied request, took V8's slow path from then on
// (core/api/ajv.ts, docs/benchmarks.md).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("compiling the gateway's JSON schemas", () => {
  it("leaves V8's map for {} room for new transitions", () => {
    const room = Number(
      execFileSync(
        process.execPath,
        ["--allow-natives-syntax", join(import.meta.dirname, "map-room-probe.ts")],
        {
          encoding: "utf8",
        },
      ),
    );
    // Of the 1,536 V8 keeps; with ajv's optimisation on, the schemas leave none.
    expect(room).toBeGreaterThanOrEqual(768);
  });
});
