// Header handling on the way up and down: hop-by-hop headers removed (RFC 9110 §7.6.1,
// plus whatever the Connection header names), the route's modifiers applied. The
// modifiers are compiled once per snapshot into lower-cased name lists.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

export const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

export interface HeaderOps {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

export function compileHeaderOps(f: {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}): HeaderOps {
  return {
    set: f.set.map((h) => [h.name.toLowerCase(), h.value]),
    add: f.add.map((h) => [h.name.toLowerCase(), h.value]),
    remove: f.remove.map((h) => h.toLowerCase()),
  };
}

/** Names listed in a Connection header are hop-by-hop too. */
export function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  // The usual values name no header: answer without splitting.
  if (!value || value === "keep-alive" || value === "close" || value === "Keep-Alive") return undefined;
  const text = Array.isArray(value) ? value.join(",") : value;
  const names = text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "" && s !== "close" && s !== "keep-alive");
  return names.length > 0 ? new Set(names) : undefined;
}

/**
 * Copies end-to-end headers, dropping hop-by-hop ones, those in `drop` and, with
 * `dropUnderscored`, names containing '_': CGI, WSGI and PHP turn both `x_user_id` and
 * `x-user-id` into HTTP_X_USER_ID, so a client could pass a header the gateway sets
 * itself (an identity header) under the other spelling.
 */
export function endToEnd(
  headers: IncomingHttpHeaders,
  drop: ReadonlySet<string> | undefined,
  dropUnderscored = false,
): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) || drop?.has(name)) continue;
    if (dropUnderscored && name.includes("_")) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** The first header name containing '_', if any (for --headers-with-underscores=reject). */
export function underscoredHeader(headers: IncomingHttpHeaders): string | undefined {
  for (const name in headers) if (name.includes("_")) return name;
  return undefined;
}

export function applyHeaderOps(
  headers: Record<string, string | string[]> | OutgoingHttpHeaders,
  ops: HeaderOps,
) {
  for (const name of ops.remove) delete headers[name];
  for (const [name, value] of ops.set) headers[name] = value;
  for (const [name, value] of ops.add) {
    const current = headers[name];
    if (current === undefined) headers[name] = value;
    else if (Array.isArray(current)) headers[name] = [...current.map(String), value];
    else headers[name] = [String(current), value];
  }
}
