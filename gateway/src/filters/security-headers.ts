// Security headers (OWASP Secure Headers) on every response: proxied ones, and the
// gateway's own answers (404, 401, 403, 429, 502, 503 problems, redirects, preflights),
// which a browser renders just the same. They join the head when it is written, under
// whatever the response carries: an upstream's own value of a header, and the route's
// ResponseHeaderModifier, take precedence over the gateway's.
//
// Why at writeHead and not with setHeader beforehand: once a response has a header set,
// Node's writeHead sends every other header through setHeader too (validated, lower-cased
// and stored twice); with three security headers that cost about 6 µs of a proxied
// request's ~50 (measured, docs/benchmarks.md). SecurityHeadersResponse adds them to the
// object handed to writeHead instead, on every path that writes a head — the gateway's
// own answers and Node's implicit head included.
import { type OutgoingHttpHeaders, ServerResponse } from "node:http";

/** What to send; an empty string sends none of that header. */
export interface SecurityHeaderValues {
  hsts: string;
  contentTypeOptions: string;
  frameOptions: string;
  frameAncestors: string;
  referrerPolicy: string;
}

/** The headers to set, compiled once: lower-cased names with their values. */
export type SecurityHeaders = readonly (readonly [string, string])[];

/** HSTS only on a TLS listener: over plain HTTP browsers ignore it (RFC 6797 §8.1). */
export function compileSecurityHeaders(values: Partial<SecurityHeaderValues>, tls: boolean): SecurityHeaders {
  const out: [string, string][] = [];
  if (tls && values.hsts) out.push(["strict-transport-security", values.hsts]);
  if (values.contentTypeOptions) out.push(["x-content-type-options", values.contentTypeOptions]);
  if (values.frameOptions) out.push(["x-frame-options", values.frameOptions]);
  if (values.frameAncestors)
    out.push(["content-security-policy", `frame-ancestors ${values.frameAncestors}`]);
  if (values.referrerPolicy) out.push(["referrer-policy", values.referrerPolicy]);
  return out;
}

const PENDING = Symbol("security headers to add at writeHead");

/**
 * The data-plane listener's response class: headers given to setSecurityHeaders are added
 * when the head is written, each unless the response already has that header.
 */
export class SecurityHeadersResponse extends ServerResponse {
  [PENDING]: SecurityHeaders | undefined = undefined;

  // writeHead(status, headers?) or writeHead(status, reason, headers?): passed through as given.
  override writeHead(statusCode: number, a?: unknown, b?: unknown): this {
    const pending = this[PENDING];
    if (pending !== undefined && pending.length > 0) {
      this[PENDING] = undefined;
      const head = typeof a === "string" ? b : a;
      if (head !== null && typeof head === "object" && !Array.isArray(head))
        addMissing(head as Record<string, unknown>, pending, this);
      else for (const [name, value] of pending) if (!hasRaw(head, name, this)) this.setHeader(name, value);
    }
    // Node's writeHead reads its arguments by position: undefined ones are as good as absent.
    return super.writeHead(statusCode, a as string, b as OutgoingHttpHeaders);
  }
}

/** Adds each header `head` (a writeHead object) and the response lack, in place. */
function addMissing(head: Record<string, unknown>, pending: SecurityHeaders, res: ServerResponse) {
  let mixedCase = false;
  for (const key in head) if (key !== key.toLowerCase()) mixedCase = true;
  for (const [name, value] of pending) {
    if (head[name] !== undefined || res.hasHeader(name)) continue;
    if (mixedCase && Object.keys(head).some((k) => k.toLowerCase() === name)) continue;
    head[name] = value;
  }
}

/** Whether raw writeHead headers ([name, value, …]) or the response already name `name`. */
function hasRaw(raw: unknown, name: string, res: ServerResponse): boolean {
  if (res.hasHeader(name)) return true;
  if (!Array.isArray(raw)) return false;
  for (let i = 0; i < raw.length; i += 2) if (String(raw[i]).toLowerCase() === name) return true;
  return false;
}

/**
 * The headers `res` gets when its head is written (replacing any set before): at writeHead
 * on a SecurityHeadersResponse, at once with setHeader on any other response.
 */
export function setSecurityHeaders(res: ServerResponse, headers: SecurityHeaders) {
  if (res instanceof SecurityHeadersResponse) res[PENDING] = headers;
  else for (const [name, value] of headers) res.setHeader(name, value);
}

/**
 * The gateway's headers and, for rules with a ResponseSecurityHeaders filter, the rule's
 * values over the gateway's, compiled once per rule runtime (a new snapshot builds new ones).
 */
export class SecurityHeaderSet {
  readonly global: SecurityHeaders;
  readonly #base: Partial<SecurityHeaderValues>;
  readonly #tls: boolean;
  readonly #perRule = new WeakMap<object, SecurityHeaders>();

  constructor(base: Partial<SecurityHeaderValues>, tls: boolean) {
    this.#base = base;
    this.#tls = tls;
    this.global = compileSecurityHeaders(base, tls);
  }

  /** Replaces the gateway's headers on `res` by the rule's. */
  applyRule(res: ServerResponse, rule: { securityHeaders: Partial<SecurityHeaderValues> | undefined }) {
    const overrides = rule.securityHeaders;
    if (!overrides) return;
    let headers = this.#perRule.get(rule);
    if (!headers) {
      headers = compileSecurityHeaders({ ...this.#base, ...overrides }, this.#tls);
      this.#perRule.set(rule, headers);
    }
    if (!(res instanceof SecurityHeadersResponse)) for (const [name] of this.global) res.removeHeader(name);
    setSecurityHeaders(res, headers);
  }
}

/** The same headers as lines of a raw HTTP/1.1 head, for answers written to the socket. */
export function securityHeaderLines(headers: SecurityHeaders): string {
  return headers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
}
