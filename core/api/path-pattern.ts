// Path patterns in AuthzPolicy rules, matched against the normalised path (the one that
// was routed and is forwarded: dot segments resolved, slashes merged, unreserved escapes
// decoded, so /public/../admin, //admin and /%61dmin are all /admin by then).
//
//   "*"   as a whole segment matches exactly one non-empty segment: /users/*/orders
//   "**"  as the last segment matches the rest, including nothing: /admin/** matches
//         /admin, /admin/ and everything below it
//   anything else matches itself; "*" inside a segment (/files/*.txt) is not a wildcard,
//         and is refused at compile time so nobody writes it believing it is
//   a trailing slash is insignificant on both sides: /admin matches /admin/
//
// Deny rules read a path the way the most lenient backend might, so they cannot be dodged
// by spelling; Allow rules read it exactly (like the router). Both directions fail closed.
// For Deny rules:
//   - case is ignored: IIS, ASP.NET and case-insensitive file systems serve /ADMIN as /admin;
//   - path parameters are ignored: Tomcat, Jetty and Spring serve /admin;x=1 as /admin.
import { normalizeRequestTarget } from "./normalize-path.ts";

export interface PathPattern {
  readonly source: string;
  matches(path: string): boolean;
}

/** Why a pattern is not usable, or undefined. Compile calls this to set a condition. */
export function pathPatternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith("/")) return "must start with /";
  const segments = pattern.split("/").slice(1);
  for (const [i, s] of segments.entries()) {
    if (s === "**" && i !== segments.length - 1) return '"**" is allowed only as the last segment';
    if (s !== "*" && s !== "**" && s.includes("*"))
      return `"*" must be a whole segment (got "${s}"); use "*" or a trailing "/**"`;
  }
  const normal = normalizeRequestTarget(pattern);
  if (typeof normal === "string" || normal.query !== "") return "not a valid path";
  return undefined;
}

function segmentsOf(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return trimmed === "/" ? [] : trimmed.split("/").slice(1);
}

/** Throws on a pattern `pathPatternProblem` refuses. `lenient`: for a Deny rule (see above). */
export function compilePathPattern(pattern: string, lenient: boolean): PathPattern {
  const problem = pathPatternProblem(pattern);
  if (problem) throw new TypeError(`path pattern "${pattern}": ${problem}`);
  // The same canonical form as request paths, so /caf%c3%a9 and /caf%C3%A9 agree.
  const normal = normalizeRequestTarget(pattern) as { path: string };
  // Strips ";params" from every segment and lower-cases, for Deny rules.
  const fold = (s: string) =>
    lenient
      ? s
          .toLowerCase()
          .replace(/;[^/]*/g, "")
          .replace(/\/{2,}/g, "/")
      : s;
  const parts = segmentsOf(fold(normal.path));
  const rest = parts[parts.length - 1] === "**";
  const fixed = rest ? parts.slice(0, -1) : parts;
  return {
    source: pattern,
    matches(path) {
      const segs = segmentsOf(fold(path));
      if (rest ? segs.length < fixed.length : segs.length !== fixed.length) return false;
      for (const [i, p] of fixed.entries()) {
        const s = segs[i] as string;
        if (p === "*" ? s === "" : p !== s) return false;
      }
      return true;
    },
  };
}
