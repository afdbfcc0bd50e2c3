import { describe, expect, it } from "vitest";
import { parseCsvLine, percentile, summarize, type VegetaResult } from "./vegeta-results.ts";

// A line as `vegeta encode -to csv` v12.13.0 wrote it (headers field shortened).
const OK_LINE =
  "1796656237606691791,200,13771808,0,0,,,,1,GET,http://127.0.0.1:18999/,Q29ubmVjdGlvbjoga2VlcC1hbGl2ZQ0K";
const ERROR_LINE =
  '1796656237700000000,0,1500000,0,0,"Get ""http://127.0.0.1:1/"": dial tcp 127.0.0.1:1: connect: connection refused",,,7,GET,http://127.0.0.1:1/,';

describe("parseCsvLine", () => {
  it("reads send time, status and latency", () => {
    expect(parseCsvLine(OK_LINE)).toEqual({
      sentNs: Number("1796656237606691791"), // a double: rounded to 256 ns
      code: 200,
      latencyNs: 13771808,
      error: "",
    });
  });

  it("reads a quoted error holding commas and doubled quotes", () => {
    expect(parseCsvLine(ERROR_LINE)).toMatchObject({
      code: 0,
      error: 'Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused',
    });
  });

  it.each(["", "not,a,result", '1,200,5,0,0,"unterminated'])("skips %j", (line) => {
    expect(parseCsvLine(line)).toBeUndefined();
  });
});

describe("percentile", () => {
  const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1); // 1 … 1000

  it.each([
    [0.5, 500],
    [0.99, 990],
    [0.999, 999],
    [1, 1000],
    [0, 1],
  ])("p%s of 1…1000 is %s (nearest rank)", (p, value) => {
    expect(percentile(sorted, p)).toBe(value);
  });

  it("is NaN without values", () => {
    expect(percentile(new Float64Array(0), 0.5)).toBeNaN();
  });
});

describe("summarize", () => {
  const start = 1.8e18;
  /** 1000 req/s for `seconds`: latency 1 ms, except every 50th request 10 ms. */
  const steady = (seconds: number, from = 1): VegetaResult[] =>
    Array.from({ length: seconds * 1000 }, (_, i) => ({
      sentNs: start + from * 1e9 + i * 1e6,
      code: 200,
      latencyNs: i % 50 === 49 ? 10e6 : 1e6,
      error: "",
    }));

  it("leaves out the settling time, then gives rate, success and percentiles", () => {
    const slowStart: VegetaResult[] = Array.from({ length: 1000 }, (_, i) => ({
      sentNs: start + i * 1e6,
      code: 200,
      latencyNs: 500e6,
      error: "",
    }));
    const s = summarize([...slowStart, ...steady(4)], 1);
    expect(s.requests).toBe(4000);
    expect(s.rate).toBeCloseTo(1000, 0);
    expect(s.success).toBe(1);
    expect(s.p50).toBe(1);
    expect(s.p90).toBe(1);
    expect(s.p99).toBe(10); // 2 % of requests are 10 ms
    expect(s.p999).toBe(10);
    expect(s.max).toBe(10);
    expect(s.errors).toEqual([]);
  });

  it("counts failures and names them, most frequent first", () => {
    const results = steady(1, 0);
    for (let i = 0; i < 10; i++) results[i] = { ...(results[i] as VegetaResult), code: 502 };
    results[20] = { ...(results[20] as VegetaResult), code: 0, error: "read: connection reset by peer" };
    const s = summarize(results, 0);
    expect(s.success).toBeCloseTo(989 / 1000);
    expect(s.errors).toEqual(["10× HTTP 502", "1× read: connection reset by peer"]);
  });

  it("gives NaN percentiles and no rate when nothing was sent after settling", () => {
    const s = summarize(steady(1, 0), 5);
    expect(s).toMatchObject({ requests: 0, rate: 0, success: 0 });
    expect(s.p99).toBeNaN();
  });
});
