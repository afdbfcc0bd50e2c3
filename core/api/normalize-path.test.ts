import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type NormalizedTarget, normalizeRequestTarget, type PathRejection } from "./normalize-path.ts";

const ok = (path: string, query = ""): NormalizedTarget => ({ path, query });

const cases: [string, NormalizedTarget | PathRejection][] = [
  // Already canonical (fast path).
  ["/", ok("/")],
  ["/a/b", ok("/a/b")],
  ["/a/b/", ok("/a/b/")],
  ["/.../a", ok("/.../a")],
  ["/a/..b/c", ok("/a/..b/c")],
  ["/a/.b", ok("/a/.b")],
  ["/a/b..", ok("/a/b..")],
  ["/café", ok("/café")],
  // Repeated slashes and dot segments.
  ["/a//b", ok("/a/b")],
  ["//a", ok("/a")],
  ["///", ok("/")],
  ["/a/./b", ok("/a/b")],
  ["/a/./", ok("/a/")],
  ["/a/../b", ok("/b")],
  ["/../a", ok("/a")],
  ["/a/..", ok("/")],
  ["/a/b/..", ok("/a/")],
  ["/a/b/.", ok("/a/b/")],
  ["/a/b/c/../../../../d", ok("/d")],
  // Encoded dots count as dots.
  ["/a/%2e%2e/b", ok("/b")],
  // An encoded ';' is data, not a parameter separator: it stays encoded, as one segment.
  ["/a/%2e%2e%3b/b", ok("/a/..%3B/b")],
  ["/a/%2E%2e/", ok("/")],
  ["/a/.%2e/b", ok("/b")],
  ["/%2e/a", ok("/a")],
  ["/%2E", ok("/")],
  ["/a/%2e", ok("/a/")],
  ["/%2e%2e/%2e%2e/etc/passwd", ok("/etc/passwd")],
  ["/a/%2e%2E%2e", ok("/a/...")],
  // Unreserved escapes are decoded; others are kept, upper-cased.
  ["/%41%42", ok("/AB")],
  ["/api/v1/%7Euser", ok("/api/v1/~user")],
  ["/a%2d%5f%2e", ok("/a-_.")],
  ["/a%20b", ok("/a%20b")],
  ["/caf%c3%a9", ok("/caf%C3%A9")],
  ["/a%3f", ok("/a%3F")],
  ["/a%25", ok("/a%25")],
  ["/a%252e", ok("/a%252e")], // '%' is never decoded, so no double decoding
  // The query is split off at the first '?' and left alone.
  ["/a?x=%2F&y=..", ok("/a", "?x=%2F&y=..")],
  ["/a/b/?q", ok("/a/b/", "?q")],
  ["/a//./b?", ok("/a/b", "?")],
  ["/a?b#c", ok("/a", "?b#c")],
  // Ambiguous encodings.
  ["/a%2fb", "EncodedSlash"],
  ["/a%2Fb", "EncodedSlash"],
  ["/users/%2e%2e%2fadmin", "EncodedSlash"],
  ["/a/%2f/../b", "EncodedSlash"], // refused even though the segment would be removed
  ["/a%5cb", "EncodedBackslash"],
  ["/a%5C", "EncodedBackslash"],
  ["/a%00", "EncodedNul"],
  ["/a/%00/../b", "EncodedNul"],
  // Malformed escapes.
  ["/a%zz", "InvalidEscape"],
  ["/a%4", "InvalidEscape"],
  ["/a%", "InvalidEscape"],
  ["/a%2g", "InvalidEscape"],
  ["/a%%41", "InvalidEscape"],
  // Other refusals.
  ["/a\\b", "Backslash"],
  ["/a\\..\\b", "Backslash"],
  // Dot segments with a parameter: servlet containers read "..;x" as "..".
  ["/public/..;/private", "PathParameter"],
  ["/a/..;jsessionid=1/b", "PathParameter"],
  ["/a/.;x/b", "PathParameter"],
  ["/a/%2e%2e;/b", "PathParameter"],
  ["/admin;x", "PathParameter"],
  ["/admin;jsessionid=1/users", "PathParameter"],
  ["/a#frag", "Fragment"],
  ["/a#", "Fragment"],
  ["/a\u0001b", "ControlCharacter"],
  ["/a\tb", "ControlCharacter"],
  ["/a\u007fb", "ControlCharacter"],
  ["*", "NotOriginForm"],
  ["http://evil/x", "NotOriginForm"],
  ["", "NotOriginForm"],
  ["?x", "NotOriginForm"],
  ["a/b", "NotOriginForm"],
];

describe("normalizeRequestTarget", () => {
  it.each(cases)("%j → %j", (input, expected) => {
    expect(normalizeRequestTarget(input)).toEqual(expected);
  });

  it("returns a common path unchanged on every call", () => {
    const target = "/api/v1/users/12345/orders";
    for (let i = 0; i < 10_000; i++) {
      const result = normalizeRequestTarget(target);
      if (typeof result === "string" || result.path !== target || result.query !== "") {
        throw new Error(`iteration ${i}: ${JSON.stringify(result)}`);
      }
    }
  });
});

const risky = ["/", ".", "..", "%2e", "%2E", "%2f", "%41", "%zz", "a", "%", "~", "%7e", "?", "é"];
const safe = risky.filter((p) => !["%2f", "%zz", "%"].includes(p));
const targetFrom = (pieces: string[]) =>
  fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((parts) => `/${parts.join("")}`);

function pathInvariants(target: string): void {
  const result = normalizeRequestTarget(target);
  if (typeof result === "string") return;
  const { path, query } = result;
  const q = target.indexOf("?");
  expect(query).toBe(q < 0 ? "" : target.slice(q));
  expect(path.startsWith("/")).toBe(true);
  expect(path).not.toContain("?");
  expect(path).not.toContain("//");
  expect(path).not.toContain("/./");
  expect(path).not.toContain("/../");
  expect(path.endsWith("/.") || path.endsWith("/..")).toBe(false);
  for (const [, hex] of path.matchAll(/%(..)/g)) {
    expect(hex).toMatch(/^[0-9A-F]{2}$/);
    expect(String.fromCharCode(Number.parseInt(hex ?? "", 16))).not.toMatch(/[A-Za-z0-9\-._~]/);
  }
  expect(normalizeRequestTarget(path)).toEqual({ path, query: "" });
}

describe("normalizeRequestTarget properties", () => {
  it("is idempotent and canonical over risky pieces", () => {
    fc.assert(fc.property(targetFrom(risky), pathInvariants), { numRuns: 2000 });
  });

  it("accepts, and canonicalises, every target without bad escapes", () => {
    fc.assert(
      fc.property(targetFrom(safe), (target) => {
        expect(typeof normalizeRequestTarget(target)).toBe("object");
        pathInvariants(target);
      }),
      { numRuns: 2000 },
    );
  });

  // Canonical form alone does not prove the right segments were removed: compare with the
  // WHATWG URL parser's dot-segment removal, after decoding and merging slashes by regex.
  it("removes the same segments as the WHATWG URL parser", () => {
    const reference = (target: string) => {
      const decoded = (target.split("?")[0] ?? "")
        .replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
          const ch = String.fromCharCode(Number.parseInt(hex, 16));
          return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${hex.toUpperCase()}`;
        })
        .replace(/\/+/g, "/");
      return new URL(decoded, "http://h").pathname;
    };
    fc.assert(
      fc.property(targetFrom(safe.filter((p) => p !== "é")), (target) => {
        expect(normalizeRequestTarget(target)).toMatchObject({ path: reference(target) });
      }),
      { numRuns: 2000 },
    );
  });
});
