// One access-log line per request, encoded straight into bytes, in the format of every other
// log line (core/admin/log-format.ts: level "info", ISO time; msg "access"): fields in a
// fixed order, absent ones left out, each key once. The bytes are exactly what JSON.stringify
// of the same object would give, UTF-8 encoded, except that durations always carry three
// decimals ("3.050").
//
// Why not build a string: a line assembled with template literals is ~25 intermediate
// strings, then flattened and UTF-8 encoded into the log buffer. Measured in the paired
// proxy bench (docs/benchmarks.md), building and writing that string cost about 5 % of a
// proxied request's CPU; the gateway spends its time on memory traffic, and this path
// allocates nothing.
//
// The line carries no header values and no query string: credentials (Authorization,
// cookies, API keys in a header or in the query) never reach it.
import type { RequestRecord } from "./request-record.ts";

/** A line's bytes besides its strings: keys, punctuation, the time, six numbers. */
const FIXED_BYTES = 512;
/** A UTF-16 code unit takes at most 6 bytes in a JSON string ("\u001f", "\udc00"). */
const PER_CHAR = 6;

/** The most bytes the line of this record can take. */
export function lineBound(r: RequestRecord, traceId: string | undefined): number {
  const chars =
    r.requestId.length +
    r.route.length +
    r.method.length +
    r.path.length +
    r.client.length +
    (traceId?.length ?? 0) +
    (r.endpoint?.length ?? 0) +
    (r.pool?.length ?? 0) +
    (r.consumer?.length ?? 0) +
    (r.tenant?.length ?? 0) +
    (r.rateLimit?.length ?? 0) +
    (r.auth?.length ?? 0);
  return FIXED_BYTES + PER_CHAR * chars;
}

/**
 * Writes the line of a closed request's record, newline included, into `buf` from `at`;
 * returns where it ends.
 * `buf` must have lineBound() bytes free from `at`.
 */
export function encodeLine(
  buf: Uint8Array,
  at: number,
  r: RequestRecord,
  traceId: string | undefined,
): number {
  let i = strField(buf, at, '{"level":"info","time":', isoTime(Date.now()));
  i = strField(buf, i, ',"msg":"access","requestId":', r.requestId);
  i = strField(buf, i, ',"traceId":', traceId);
  i = strField(buf, i, ',"route":', r.route);
  i = strField(buf, i, ',"method":', r.method);
  i = strField(buf, i, ',"path":', r.path);
  i = int(buf, raw(buf, i, ',"status":'), r.status);
  i = millis(buf, raw(buf, i, ',"durationMs":'), r.ms);
  if (r.attempts > 0) i = millis(buf, raw(buf, i, ',"upstreamMs":'), r.upstreamMs);
  i = int(buf, raw(buf, i, ',"attempts":'), r.attempts);
  if (r.bytesIn !== undefined && Number.isSafeInteger(r.bytesIn) && r.bytesIn >= 0)
    i = int(buf, raw(buf, i, ',"bytesIn":'), r.bytesIn);
  i = int(buf, raw(buf, i, ',"bytesOut":'), r.bytesOut);
  i = strField(buf, i, ',"upstream":', r.endpoint);
  i = strField(buf, i, ',"pool":', r.pool);
  i = strField(buf, i, ',"client":', r.client);
  i = strField(buf, i, ',"consumer":', r.consumer);
  i = strField(buf, i, ',"tenant":', r.tenant);
  i = strField(buf, i, ',"rateLimit":', r.rateLimit);
  i = strField(buf, i, ',"auth":', r.auth);
  buf[i++] = 0x7d; // }
  buf[i++] = 0x0a; // \n
  return i;
}

/** `key` (ours, written as it is) and `value` as a JSON string; nothing when value is absent. */
function strField(buf: Uint8Array, at: number, key: string, value: string | undefined): number {
  return value === undefined ? at : str(buf, raw(buf, at, key), value);
}

/** Our own ASCII punctuation and keys, as they are. */
function raw(buf: Uint8Array, at: number, s: string): number {
  for (let k = 0; k < s.length; k++) buf[at++] = s.charCodeAt(k);
  return at;
}

const HEX = "0123456789abcdef";
/** JSON.stringify's two-character escapes. */
const SHORT_ESCAPE: Record<number, number> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72 };

/** A JSON string as JSON.stringify writes it (quotes, escapes), in UTF-8. */
function str(buf: Uint8Array, at: number, s: string): number {
  buf[at++] = 0x22;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) {
      buf[at++] = c;
    } else if (c === 0x22 || c === 0x5c) {
      buf[at++] = 0x5c;
      buf[at++] = c;
    } else if (c < 0x20) {
      const short = SHORT_ESCAPE[c];
      buf[at++] = 0x5c;
      if (short !== undefined) buf[at++] = short;
      else at = unicodeEscape(buf, at, c);
    } else if (c < 0x80) {
      buf[at++] = c; // DEL is not escaped by JSON.stringify
    } else if (c < 0x800) {
      buf[at++] = 0xc0 | (c >> 6);
      buf[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = k + 1 < s.length ? s.charCodeAt(k + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        buf[at++] = 0xf0 | (cp >> 18);
        buf[at++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[at++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[at++] = 0x80 | (cp & 0x3f);
        k++;
      } else {
        // A lone surrogate: JSON.stringify escapes it rather than write invalid UTF-8.
        buf[at++] = 0x5c;
        at = unicodeEscape(buf, at, c);
      }
    } else {
      buf[at++] = 0xe0 | (c >> 12);
      buf[at++] = 0x80 | ((c >> 6) & 0x3f);
      buf[at++] = 0x80 | (c & 0x3f);
    }
  }
  buf[at++] = 0x22;
  return at;
}

/** "u" and four lowercase hex digits (the backslash is already written). */
function unicodeEscape(buf: Uint8Array, at: number, c: number): number {
  buf[at++] = 0x75;
  buf[at++] = HEX.charCodeAt((c >> 12) & 15);
  buf[at++] = HEX.charCodeAt((c >> 8) & 15);
  buf[at++] = HEX.charCodeAt((c >> 4) & 15);
  buf[at++] = HEX.charCodeAt(c & 15);
  return at;
}

/** A non-negative safe integer in decimal. */
function int(buf: Uint8Array, at: number, n: number): number {
  if (n < 10) {
    buf[at++] = 0x30 + n;
    return at;
  }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  let end = at + digits;
  let v = n;
  while (end > at) {
    const q = Math.floor(v / 10);
    buf[--end] = 0x30 + (v - q * 10);
    v = q;
  }
  return at + digits;
}

/** Milliseconds rounded to the microsecond, with three decimals ("12.407", "3.050"). */
function millis(buf: Uint8Array, at: number, ms: number): number {
  const us = Math.round(ms * 1000);
  if (!Number.isSafeInteger(us) || us < 0) {
    buf[at++] = 0x30;
    return at;
  }
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  at = int(buf, at, whole);
  buf[at++] = 0x2e;
  buf[at++] = 0x30 + Math.floor(frac / 100);
  buf[at++] = 0x30 + (Math.floor(frac / 10) % 10);
  buf[at++] = 0x30 + (frac % 10);
  return at;
}

/**
 * The ISO time of a millisecond (toISOString). Lines of one millisecond share one string;
 * the date and time up to the second are formatted once a second (toISOString per line
 * cost more than the rest of the time field).
 */
let isoMs = -1;
let iso = "";
let isoSecond = Number.NaN;
let isoPrefix = "";
export function isoTime(ms: number): string {
  if (ms === isoMs) return iso;
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-11-22T07:19:12."
  }
  const frac = ms - second * 1000;
  isoMs = ms;
  iso = `${isoPrefix}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}Z`;
  return iso;
}
