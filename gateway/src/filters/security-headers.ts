// Security headers (OWASP Secure Headers) on every response: proxied ones, and the
// gateway's own answers (404, 401, 403, 429, 502, 503 problems, redirects, preflights),
// which a browser renders just the same. They are set on the response before anything
// else, so writeHead merges them under whatever comes later: an upstream's own value of
// a header, and the route's ResponseHeaderModifier, take precedence over the gateway's.
import type { ServerResponse } from "node:http";

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

export function setSecurityHeaders(res: ServerResponse, headers: SecurityHeaders) {
  for (const [name, value] of headers) res.setHeader(name, value);
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
    for (const [name] of this.global) res.removeHeader(name);
    setSecurityHeaders(res, headers);
  }
}

/** The same headers as lines of a raw HTTP/1.1 head, for answers written to the socket. */
export function securityHeaderLines(headers: SecurityHeaders): string {
  return headers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
}
