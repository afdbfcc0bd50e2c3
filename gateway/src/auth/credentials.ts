// Where a credential is read from: a header, a cookie or a query parameter, in the
// order the policy lists them. The first place that holds something wins and the rest
// are not looked at, so a client cannot make the gateway weigh two credentials against
// each other. Oversized values are refused before anything parses or hashes them.
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface CredentialSource {
  header?: string;
  query?: string;
  cookie?: string;
}

/** Longest credential looked at; a JWT with many groups is a few KiB, a key far less. */
export const MAX_CREDENTIAL_LENGTH = 16_384;

export type Presented =
  | { found: false }
  /** `usable: false`: something was there but cannot be a credential (too long, wrong scheme). */
  | { found: true; usable: false; source: CredentialSource }
  | { found: true; usable: true; value: string; source: CredentialSource };

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  // Node joins repeated headers with ", " (and keeps only the first Authorization);
  // an array only comes for set-cookie, which is never a credential.
  return typeof v === "string" ? v : undefined;
}

/** The value of cookie `name`, the first one when the client sent it twice. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** The value of query parameter `name` in a raw query ("" or "?a=b"), the first when repeated. */
export function queryValue(query: string, name: string): string | undefined {
  if (query.length <= 1) return undefined;
  const value = new URLSearchParams(query.slice(1)).get(name);
  return value === null ? undefined : value;
}

function rawValue(source: CredentialSource, headers: IncomingHttpHeaders, query: string): string | undefined {
  if (source.header !== undefined) return headerValue(headers, source.header);
  if (source.cookie !== undefined) return cookieValue(headerValue(headers, "cookie"), source.cookie);
  if (source.query !== undefined) return queryValue(query, source.query);
  return undefined;
}

/**
 * The first credential found in `sources`. For the Authorization header the Bearer scheme
 * is required (`bearer: true`) and stripped; any other scheme there is not a token.
 */
export function presentedCredential(
  sources: readonly CredentialSource[],
  headers: IncomingHttpHeaders,
  query: string,
  bearer: boolean,
): Presented {
  for (const source of sources) {
    const raw = rawValue(source, headers, query);
    if (raw === undefined || raw === "") continue;
    if (raw.length > MAX_CREDENTIAL_LENGTH) return { found: true, usable: false, source };
    if (bearer && source.header?.toLowerCase() === "authorization") {
      const m = BEARER.exec(raw);
      // Another scheme (Basic, ApiKey…) belongs to someone else: keep looking.
      if (!m) {
        if (/^Bearer\b/i.test(raw)) return { found: true, usable: false, source };
        continue;
      }
      return { found: true, usable: true, value: m[1] as string, source };
    }
    return { found: true, usable: true, value: raw.trim(), source };
  }
  return { found: false };
}

/**
 * What brute-force counting knows of a presented credential: a SHA-256 digest, never the
 * value. Unkeyed on purpose: it only has to tell presented values apart (the limiter hashes
 * its keys again before they reach Redis), and every replica must compute the same digest.
 */
export function credentialDigest(value: string): string {
  return createHash("sha256").update(value).digest("base64url").slice(0, 22);
}
