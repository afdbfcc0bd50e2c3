// What ConsistentHash hashes on for a request: a header, a cookie (issued by the gateway
// when the client has none, for sticky sessions) or the client address.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BackendPoolRuntime } from "./backend-pool.ts";

/** The consistent-hash key of a request for a pool (header, cookie or client IP), if any. */
export function hashKeyOf(
  pool: BackendPoolRuntime,
  req: IncomingMessage,
  client: string,
  res?: ServerResponse,
): string | undefined {
  const on = pool.config.loadBalancing.hashOn;
  if (!on) return undefined;
  if ("header" in on) {
    const v = req.headers[on.header];
    return Array.isArray(v) ? v.join(",") : v;
  }
  if (!("cookie" in on)) return client;
  const prefix = `${on.cookie.name}=`;
  for (const part of req.headers.cookie?.split(";") ?? []) {
    const c = part.trim();
    if (c.startsWith(prefix)) return c.slice(prefix.length);
  }
  if (!res) return undefined;
  // No cookie yet: issue one (sticky sessions) and hash this request on it too; a retry
  // of the same request finds it in the response headers.
  const issued = res.getHeader("set-cookie");
  const mine = (Array.isArray(issued) ? issued : []).find((c) => String(c).startsWith(prefix));
  if (mine) return String(mine).slice(prefix.length).split(";")[0];
  const value = randomUUID();
  const ttl = on.cookie.ttlMs === undefined ? "" : `; Max-Age=${Math.ceil(on.cookie.ttlMs / 1000)}`;
  res.appendHeader("set-cookie", `${prefix}${value}; Path=/; HttpOnly${ttl}`);
  return value;
}
