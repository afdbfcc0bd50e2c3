import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoTime, msText } from "./request-record.ts";

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

describe("access-log durations", () => {
  it("are milliseconds rounded to the microsecond, as JSON numbers", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), (ms) => {
        const text = msText(ms);
        expect(text).toMatch(/^\d+\.\d{3}$/);
        expect(JSON.parse(text)).toBeCloseTo(Math.round(ms * 1000) / 1000, 6);
      }),
    );
    expect(msText(12.4)).toBe("12.400");
    expect(msText(0.0504)).toBe("0.050");
    expect(msText(3)).toBe("3.000");
  });
});
