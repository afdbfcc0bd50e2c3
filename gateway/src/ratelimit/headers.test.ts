// Header syntax is checked with a small strict parser of RFC 9651 lists (sf-list of items
// with parameters; bare items: sf-string, sf-integer, sf-token, sf-boolean), then against
// the draft's item shapes: RateLimit-Policy items carry q (and w), RateLimit items r and t.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rateLimitHeaders, retryAfterHeader, sfString } from "./headers.ts";
import type { RuleOutcome } from "./types.ts";

type Bare = string | number | boolean | { token: string };
interface Item {
  value: Bare;
  params: Map<string, Bare>;
}

function parseSfList(input: string): Item[] {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at ${i} in ${JSON.stringify(input)}`);
  };
  const sp = () => {
    while (input[i] === " ") i++;
  };
  const ows = () => {
    while (input[i] === " " || input[i] === "\t") i++;
  };
  const bare = (): Bare => {
    const c = input[i] ?? "";
    if (c === '"') {
      i++;
      let s = "";
      for (;;) {
        const ch = input[i++];
        if (ch === undefined) fail("unterminated string");
        if (ch === "\\") {
          const next = input[i++];
          if (next !== '"' && next !== "\\") fail("bad escape");
          s += next;
        } else if (ch === '"') return s;
        else if ((ch as string) < " " || (ch as string) > "~") fail("non-printable in string");
        else s += ch;
      }
    }
    if (c === "-" || /[0-9]/.test(c)) {
      const m = /^-?[0-9]{1,15}(?![0-9.])/.exec(input.slice(i));
      if (!m) fail("bad integer");
      i += (m as RegExpExecArray)[0].length;
      return Number((m as RegExpExecArray)[0]);
    }
    if (c === "?") {
      const b = input[i + 1];
      if (b !== "0" && b !== "1") fail("bad boolean");
      i += 2;
      return b === "1";
    }
    const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(input.slice(i));
    if (!m) fail("bad bare item");
    i += (m as RegExpExecArray)[0].length;
    return { token: (m as RegExpExecArray)[0] };
  };
  const params = () => {
    const out = new Map<string, Bare>();
    while (input[i] === ";") {
      i++;
      sp();
      const m = /^[a-z*][a-z0-9_\-.*]*/.exec(input.slice(i));
      if (!m) fail("bad key");
      const key = (m as RegExpExecArray)[0];
      i += key.length;
      let value: Bare = true;
      if (input[i] === "=") {
        i++;
        value = bare();
      }
      out.set(key, value);
    }
    return out;
  };
  const items: Item[] = [];
  sp();
  if (i === input.length) fail("empty list");
  while (i < input.length) {
    if (input[i] === "(") fail("inner lists not expected");
    const value = bare();
    items.push({ value, params: params() });
    ows();
    if (i === input.length) break;
    if (input[i] !== ",") fail("expected comma");
    i++;
    ows();
    if (i === input.length) fail("trailing comma");
  }
  return items;
}

function outcome(over: Partial<RuleOutcome> = {}): RuleOutcome {
  return {
    policyId: "shop/api-limits",
    rule: "per-consumer",
    status: "allowed",
    limit: 100,
    windowMs: 60_000,
    remaining: 42,
    resetMs: 16_200,
    retryAfterMs: 0,
    blocked: false,
    ...over,
  };
}

describe("sf-list parser (the test's own oracle)", () => {
  it("accepts valid lists and rejects invalid ones", () => {
    expect(parseSfList('"a";q=1, "b";r=2;t=3')).toHaveLength(2);
    for (const bad of ['"a', 'a"', '"a";Q=1', '"a";q=1,', '"a";q=1.5.', '"\u00e9"', '"a\\n"', ""]) {
      expect(() => parseSfList(bad)).toThrow(SyntaxError);
    }
  });
});

describe("rateLimitHeaders", () => {
  it("formats the draft's example shapes", () => {
    const h = rateLimitHeaders(outcome(), "Draft");
    expect(h).toEqual({
      "ratelimit-policy": '"shop/api-limits/per-consumer";q=100;w=60',
      ratelimit: '"shop/api-limits/per-consumer";r=42;t=17',
    });
  });

  it("parses as structured-field lists with the draft's parameters", () => {
    const h = rateLimitHeaders(outcome(), "Draft");
    const [policy] = parseSfList(h["ratelimit-policy"] as string);
    const [limit] = parseSfList(h.ratelimit as string);
    expect(policy?.value).toBe("shop/api-limits/per-consumer");
    expect(Object.fromEntries(policy?.params ?? [])).toEqual({ q: 100, w: 60 });
    expect(limit?.value).toBe(policy?.value);
    expect(Object.fromEntries(limit?.params ?? [])).toEqual({ r: 42, t: 17 });
  });

  it("adds legacy headers only for DraftAndLegacy, and nothing for None or a failed rule", () => {
    expect(rateLimitHeaders(outcome(), "DraftAndLegacy")).toMatchObject({
      "x-ratelimit-limit": "100",
      "x-ratelimit-remaining": "42",
      "x-ratelimit-reset": "17",
    });
    expect(rateLimitHeaders(outcome(), "Draft")).not.toHaveProperty("x-ratelimit-limit");
    expect(rateLimitHeaders(outcome(), "None")).toEqual({});
    expect(rateLimitHeaders(outcome({ status: "failed" }), "Draft")).toEqual({});
    expect(rateLimitHeaders(undefined, "Draft")).toEqual({});
  });

  it("caps remaining at the quota (buckets with burst) and the window at ≥ 1 s", () => {
    const h = rateLimitHeaders(outcome({ remaining: 150, windowMs: 250 }), "Draft");
    expect(h.ratelimit).toContain(";r=100;");
    expect(h["ratelimit-policy"]).toContain(";w=1");
  });

  it("stays valid for any name and any numbers", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.string({ unit: "binary" }),
        fc.nat(1_000_000_000),
        fc.nat(2_000_000_000),
        fc.nat(1e12),
        fc.integer({ min: 1, max: 1e12 }),
        (policyId, rule, limit, remaining, resetMs, windowMs) => {
          const h = rateLimitHeaders(
            outcome({ policyId, rule, limit, remaining, resetMs, windowMs }),
            "Draft",
          );
          for (const field of [h["ratelimit-policy"], h.ratelimit]) {
            const items = parseSfList(field as string);
            expect(items).toHaveLength(1);
            for (const v of items[0]?.params.values() ?? []) expect(Number.isInteger(v)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("sfString and Retry-After", () => {
  it("escapes quotes and backslashes and replaces what an sf-string cannot hold", () => {
    expect(sfString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(sfString("tab\there é")).toBe('"tab?here ?"');
    expect(parseSfList(sfString('a"b\\c'))[0]?.value).toBe('a"b\\c');
  });

  it("Retry-After is whole delta seconds, at least 1", () => {
    expect(retryAfterHeader(0)).toEqual({ "retry-after": "1" });
    expect(retryAfterHeader(2.1)).toEqual({ "retry-after": "3" });
  });
});
