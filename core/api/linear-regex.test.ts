import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileLinearRegex, linearRegexProblem } from "./linear-regex.ts";

describe("linearRegexProblem", () => {
  it.each([
    ["/api/v[0-9]+/users/[^/]+"],
    ["(a+)+$"],
    ["(x+x+)+y"],
    ["(?<id>[0-9]+)"],
    ["(?<=/)[a-z]+"],
    ["(?<!a)b"],
    ["\\bword\\b"],
    ["a{2,5}"],
    ["[(?=\\\\1]"],
    ["\\(?=x"],
    ["café|naïve"],
  ])("accepts %s", (pattern) => {
    expect(linearRegexProblem(pattern)).toBeUndefined();
  });

  it.each([
    ["(a)\\1", /^backreferences .* cannot be matched in linear time/],
    ["(?<n>a)\\k<n>", /^backreferences /],
    ["a(?=b)", /^lookahead /],
    ["(?!admin)[a-z]+", /^lookahead /],
    ["(?i:admin)", /^inline modifiers /],
    ["a{2,1000}", /^counted repetitions .* too big/],
    ["(a{10}){10}", /^counted repetitions /],
    ["\\p{L}+", /^Unicode property escapes .* without the unicode flag/],
    ["[\\P{L}]", /^Unicode property escapes /],
    ["\\u{1F600}", /^code point escapes /],
    ["😀+", /^characters outside the Basic Multilingual Plane/],
    // Syntax is still judged in unicode mode (stricter than the legacy syntax).
    ["[", /Unterminated character class/],
    ["\\a", /Invalid escape/],
    ["a)|(b", /Unmatched/],
  ])("refuses %s, saying what the engine cannot do", (pattern, message) => {
    expect(linearRegexProblem(pattern)).toMatch(message);
  });
});

describe("compileLinearRegex", () => {
  it("matches the whole value", () => {
    const re = compileLinearRegex("/api/v[0-9]+");
    expect(re.test("/api/v2")).toBe(true);
    expect(re.test("/api/v2/x")).toBe(false);
    expect(re.test("x/api/v2")).toBe(false);
    // Alternation stays inside the anchors.
    const alt = compileLinearRegex("/a|/b");
    expect(alt.test("/a")).toBe(true);
    expect(alt.test("/b/c")).toBe(false);
  });

  it("builds a linear-time RegExp", () => {
    expect(compileLinearRegex("(a+)+$").flags).toContain("l");
  });

  it("throws on a pattern linearRegexProblem refuses, naming the pattern", () => {
    expect(() => compileLinearRegex("(a)\\1")).toThrow(/regular expression "\(a\)\\1": backreferences/);
  });

  it("answers a hostile 1 KiB value against (a+)+$ in well under a millisecond", () => {
    const re = compileLinearRegex("/redos/(a+)+$");
    const hostile = `/redos/${"a".repeat(1024)}!`;
    re.test(hostile);
    const start = performance.now();
    for (let i = 0; i < 10; i++) expect(re.test(hostile)).toBe(false);
    expect((performance.now() - start) / 10).toBeLessThan(1);
  });

  // The engine runs without the unicode flag; for the patterns it accepts, on the values a
  // request can carry, it must answer as the unicode-mode backtracking RegExp did.
  it("agrees with the backtracking engine on accepted patterns", () => {
    const patterns = [
      "/api/v[0-9]+/users/[^/]+",
      "/(?<=/)[a-z]+",
      "(a|ab)(c|bcd)(d*)",
      "(?:a*)*b",
      "\\w+\\b",
      "[^x]*x",
      ".*é",
      "[a-c]{1,3}",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.string({ unit: fc.constantFrom("a", "b", "c", "d", "x", "/", "1", "é", "-"), maxLength: 12 }),
        (pattern, value) => {
          const native = new RegExp(`^(?:${pattern})$`, "u");
          expect(compileLinearRegex(pattern).test(value)).toBe(native.test(value));
        },
      ),
    );
  });
});
