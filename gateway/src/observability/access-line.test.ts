import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeLine, isoTime, lineBound } from "./access-line.ts";
import { RequestRecord } from "./request-record.ts";

/** Any UTF-16 code unit, lone surrogates and control characters included. */
const anyText = fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength: 40 });
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const fields = fc.record({
  method: fc.constantFrom("GET", "POST", "PURGE"),
  requestId: anyText,
  route: anyText,
  path: fc.oneof(anyText, fc.string({ unit: "binary" })),
  client: anyText,
  status: fc.integer({ min: 100, max: 599 }),
  ms: fc.double({ min: 0, max: 1e9, noNaN: true }),
  upstreamMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  attempts: fc.nat(5),
  bytesIn: optional(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(Number.NaN), fc.constant(-1))),
  bytesOut: fc.oneof(fc.nat(), fc.maxSafeNat()),
  traceId: optional(fc.stringMatching(/^[0-9a-f]{32}$/)),
  endpoint: optional(anyText),
  pool: optional(anyText),
  consumer: optional(anyText),
  tenant: optional(anyText),
  rateLimit: optional(anyText),
  auth: optional(anyText),
});

type Fields = typeof fields extends fc.Arbitrary<infer T> ? T : never;

function recordOf(f: Fields) {
  const r = new RequestRecord(f.method, undefined, undefined);
  Object.assign(r, {
    requestId: f.requestId,
    status: f.status,
    ms: f.ms,
    route: f.route,
    path: f.path,
    client: f.client,
    upstreamMs: f.upstreamMs,
    attempts: f.attempts,
    bytesIn: f.bytesIn,
    bytesOut: f.bytesOut,
    endpoint: f.endpoint,
    pool: f.pool,
    consumer: f.consumer,
    tenant: f.tenant,
    rateLimit: f.rateLimit,
    auth: f.auth,
  });
  return r;
}

/** Milliseconds rounded to the microsecond, three decimals: the reference for durations. */
function millisText(ms: number): string {
  const us = Math.round(ms * 1000);
  return `${Math.floor(us / 1000)}.${String(us % 1000).padStart(3, "0")}`;
}

describe("access-log line", () => {
  it("is exactly JSON.stringify of its fields in order, UTF-8 encoded, within its bound", () => {
    fc.assert(
      fc.property(fields, (f) => {
        const r = recordOf(f);
        const bound = lineBound(r, f.traceId);
        const buf = Buffer.alloc(bound + 16, 0xee);
        const before = Date.now();
        const end = encodeLine(buf, 8, r, f.traceId);
        expect(end - 8).toBeLessThanOrEqual(bound);
        expect(buf.subarray(0, 8).every((b) => b === 0xee)).toBe(true);
        expect(buf.subarray(end).every((b) => b === 0xee)).toBe(true);
        const line = buf.toString("utf8", 8, end);
        const time = (JSON.parse(line) as { time: string }).time;
        expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
        const expected = {
          level: "info",
          time,
          msg: "access",
          requestId: f.requestId,
          ...(f.traceId !== undefined ? { traceId: f.traceId } : {}),
          route: f.route,
          method: f.method,
          path: f.path,
          status: f.status,
          durationMs: "<ms>",
          ...(f.attempts > 0 ? { upstreamMs: "<upstream>" } : {}),
          attempts: f.attempts,
          ...(f.bytesIn !== undefined && f.bytesIn >= 0 ? { bytesIn: f.bytesIn } : {}),
          bytesOut: f.bytesOut,
          ...(f.endpoint !== undefined ? { upstream: f.endpoint } : {}),
          ...(f.pool !== undefined ? { pool: f.pool } : {}),
          client: f.client,
          ...(f.consumer !== undefined ? { consumer: f.consumer } : {}),
          ...(f.tenant !== undefined ? { tenant: f.tenant } : {}),
          ...(f.rateLimit !== undefined ? { rateLimit: f.rateLimit } : {}),
          ...(f.auth !== undefined ? { auth: f.auth } : {}),
        };
        const text = JSON.stringify(expected)
          .replace('"<ms>"', millisText(f.ms))
          .replace('"<upstream>"', millisText(f.upstreamMs));
        expect(line).toBe(`${text}\n`);
        // The bytes are the UTF-8 of that text: a lone surrogate never became U+FFFD.
        expect(Buffer.compare(buf.subarray(8, end), Buffer.from(`${text}\n`, "utf8"))).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("writes durations with three decimals, rounded to the microsecond", () => {
    const r = new RequestRecord("GET", undefined, undefined);
    const duration = (ms: number) => {
      r.ms = ms;
      const buf = Buffer.alloc(lineBound(r, undefined));
      const line = buf.toString("utf8", 0, encodeLine(buf, 0, r, undefined));
      return /"durationMs":([^,]*)/.exec(line)?.[1];
    };
    expect(duration(12.4)).toBe("12.400");
    expect(duration(0.0504)).toBe("0.050");
    expect(duration(3)).toBe("3.000");
    expect(duration(1234.5678)).toBe("1234.568");
  });
});

describe("access-log time", () => {
  it("equals toISOString for any millisecond, in any order (the per-second cache never leaks)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 50 }),
        (times) => {
          for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
        },
      ),
    );
  });

  it("is right across second boundaries and for the first milliseconds of a second", () => {
    const start = Date.parse("2026-11-22T23:59:59.990Z");
    for (let ms = start; ms < start + 30; ms++) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    for (const ms of [start + 10, start + 10, start + 110, start + 1010])
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
