// User regular expressions (RegularExpression path, header and query matches) meet request
// data, so they run on V8's linear-time engine (the `l` flag): a match costs O(pattern ×
// input) whatever the pattern, and `(a+)+$` cannot stall the event loop the way a
// backtracking engine does (37 bytes took 1.5 s; each extra byte doubled it).
//
// The engine is behind a V8 flag. Setting it at run time works (it is read when a RegExp is
// created, not at start-up), so importing this module is enough: the gateway, the operator
// and `sluice compile` all judge and build patterns through here.
//
// What the engine cannot run is refused when the pattern is compiled, never at request
// time: backreferences, lookahead, inline modifiers ((?i:…)), counted repetitions too large
// to unroll, and the unicode (`u`) mode. Patterns are still checked with `u` syntax (the
// stricter one, as before), then run without it; the constructs whose meaning depends on
// `u` (\p{…}, \u{…}, characters outside the Basic Multilingual Plane) are refused so no
// pattern silently changes meaning. What remains differs in one way only: `.` and negated
// classes match one UTF-16 code unit, so a character above U+FFFF counts as two.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--enable-experimental-regexp-engine");

const ENGINE_AVAILABLE = (() => {
  try {
    // biome-ignore lint/complexity/useRegexLiterals: a literal /…/l is a syntax error when the module is parsed, before the flag is set
    new RegExp("", "l");
    return true;
  } catch {
    return false;
  }
})();

/** The whole value must match, as in the Gateway API: the pattern anchored at both ends. */
function fullMatch(pattern: string): string {
  return `^(?:${pattern})$`;
}

/** Constructs that change the answer, found by a scan that knows escapes and classes. */
function unsupportedConstructs(pattern: string): { unicode?: string; linear: string[]; counted: boolean } {
  const linear: string[] = [];
  let counted = false;
  let unicode: string | undefined;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const next = pattern[i + 1];
    if (c === "\\") {
      if (next === "p" || next === "P") unicode ??= "Unicode property escapes (\\p{…}, \\P{…})";
      else if (next === "u" && pattern[i + 2] === "{") unicode ??= "code point escapes (\\u{…})";
      else if (!inClass && next !== undefined && (next === "k" || (next >= "1" && next <= "9")))
        linear.push("backreferences (\\1, \\k<name>)");
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(" && next === "?") {
      const kind = pattern[i + 2];
      if (kind === "=" || kind === "!") linear.push("lookahead ((?=…), (?!…))");
      else if (kind !== ":" && kind !== "<") linear.push("inline modifiers ((?i:…))");
    } else if (c === "{" && next !== undefined && next >= "0" && next <= "9") counted = true;
  }
  // A surrogate pair is one character with `u` and two without: `😀+` would change meaning.
  if (/[\uD800-\uDFFF]/.test(pattern)) unicode ??= "characters outside the Basic Multilingual Plane";
  return { unicode, linear: [...new Set(linear)], counted };
}

/**
 * Why `pattern` cannot be used as a RegularExpression match, or undefined when it can.
 * Compile calls this to put the problem in the route's condition, naming the field.
 */
export function linearRegexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, "u");
  } catch (err) {
    return (err as Error).message;
  }
  const found = unsupportedConstructs(pattern);
  if (found.unicode)
    return `${found.unicode} are not supported: patterns run on a linear-time engine without the unicode flag`;
  if (!ENGINE_AVAILABLE)
    return `this Node.js (${process.version}) has no linear-time regular expression engine`;
  try {
    new RegExp(fullMatch(pattern), "l");
    return undefined;
  } catch {
    if (found.linear.length > 0)
      return `${found.linear.join(", ")} cannot be matched in linear time; patterns run on a linear-time engine so a request cannot stall the gateway`;
    if (found.counted)
      return "counted repetitions ({n,m}) this large are too big for the linear-time engine, which unrolls them; use smaller bounds or + and *";
    return "this pattern cannot be matched in linear time; patterns run on a linear-time engine so a request cannot stall the gateway";
  }
}

/**
 * The RegExp that tests a request value against a user's pattern: a full match, run in
 * linear time. Throws (and the snapshot is not loaded) on a pattern `linearRegexProblem`
 * refuses.
 */
export function compileLinearRegex(pattern: string): RegExp {
  const problem = linearRegexProblem(pattern);
  if (problem) throw new TypeError(`regular expression "${pattern}": ${problem}`);
  return new RegExp(fullMatch(pattern), "l");
}
