// Request-target normalisation, run on every request before routing.
//
// The path we route on is the path we forward upstream, so it must mean the same thing to
// us and to every backend. Anything a backend might read differently from us is refused
// rather than guessed at: an encoded '/' or '\' (%2F, %5C) that one server decodes into a
// separator and another does not, a literal '\' that some servers treat as '/', %00, a
// malformed escape, control characters, fragments, and a raw ';' (servlet containers drop
// ";params", so "/admin;x" or "/public/..;/admin" would mean /admin to them and something
// else to our router). An encoded %3B stays encoded: it is data, not a separator.
// Otherwise a client could match a route for /public/.. and reach /admin. What remains is put in one canonical form (RFC 3986
// §6.2.2): unreserved escapes decoded, other escapes upper-cased, dot segments removed
// (after decoding, so %2E%2E counts), repeated slashes merged. The result is idempotent.
// The query is split off at the first '?' and passed through untouched.

export type PathRejection =
  | "EncodedSlash"
  | "EncodedBackslash"
  | "EncodedNul"
  | "InvalidEscape"
  | "Backslash"
  | "NotOriginForm"
  | "Fragment"
  | "ControlCharacter"
  | "PathParameter";

export interface NormalizedTarget {
  path: string;
  /** "" or the raw query including its leading "?". */
  query: string;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const HEX = "0123456789ABCDEF";

export function normalizeRequestTarget(target: string): NormalizedTarget | PathRejection {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q);
  if (path.charCodeAt(0) !== SLASH) return "NotOriginForm";

  // Fast path: one scan; a path with no '%', no empty and no dot segment is already canonical.
  let segStart = 1;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === SLASH) {
      if (isEmptyOrDotSegment(path, segStart, i)) return slowPath(path, query);
      segStart = i + 1;
    } else if (c === PERCENT) {
      return slowPath(path, query);
    } else {
      const bad = rejectChar(c);
      if (bad !== undefined) return bad;
    }
  }
  // A final empty segment is a trailing slash, which is kept; a final '.' or '..' is not.
  if (segStart < path.length && isEmptyOrDotSegment(path, segStart, path.length)) {
    return slowPath(path, query);
  }
  return { path, query };
}

/** Decodes and checks escapes, then removes dot segments and empty segments. */
function slowPath(path: string, query: string): NormalizedTarget | PathRejection {
  const segments: string[] = [];
  let seg = ""; // the current segment, built from runs of path plus decoded escapes
  let runStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : SLASH; // a virtual '/' ends the last segment
    if (c === SLASH) {
      seg += path.slice(runStart, i);
      if (seg === "..") segments.pop();
      else if (seg !== "." && seg !== "") segments.push(seg);
      if (i < path.length) seg = "";
      runStart = i + 1;
    } else if (c === PERCENT) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return "InvalidEscape";
      const byte = hi * 16 + lo;
      if (byte === 0x2f) return "EncodedSlash";
      if (byte === 0x5c) return "EncodedBackslash";
      if (byte === 0) return "EncodedNul";
      seg += path.slice(runStart, i);
      seg += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
      runStart = i + 1;
    } else {
      const bad = rejectChar(c);
      if (bad !== undefined) return bad;
    }
  }
  // `seg` is now the last segment: if it was empty, '.' or '..' the path ends in a directory.
  const trailing = segments.length > 0 && (seg === "" || seg === "." || seg === "..");
  return { path: `/${segments.join("/")}${trailing ? "/" : ""}`, query };
}

function rejectChar(c: number): PathRejection | undefined {
  if (c < 0x20 || c === 0x7f) return "ControlCharacter";
  if (c === 0x23) return "Fragment";
  if (c === 0x5c) return "Backslash";
  // "/admin;x" routes as a segment of its own here, but servlet containers (Tomcat, Jetty,
  // Spring) drop ";params" and serve /admin: a route or rule on /admin would be bypassed.
  if (c === 0x3b) return "PathParameter";
  return undefined;
}

/** Empty, or starting with '.': the slow path decides (dot segments). */
function isEmptyOrDotSegment(path: string, start: number, end: number): boolean {
  return end === start || path.charCodeAt(start) === DOT;
}

/** "." or ".." followed by ";": a dot segment to servlet containers, a name to RFC 3986. */
/** 0-15, or -1 for anything else (including NaN past the end of the string). */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}
