// What a rule counts a request by. Pure: the data plane passes what it established (client
// address after trusted-hop handling, authentication results, claims, headers) and gets the
// key value, or undefined when the request lacks it. The limiter counts every request
// without a value in one shared "missing" bucket per rule (see the CRD field description),
// so leaving out a header cannot escape a limit, and cannot throw either.
import ipaddr from "ipaddr.js";
import { BoundedCache } from "../bounded-cache.ts";
import type { RateLimitRule } from "./types.ts";

export interface KeySources {
  /** The client address as the data plane resolved it (socket peer or trusted X-Forwarded-For). */
  clientIp: string;
  /** Id of the API key that authenticated the request (never the key itself). */
  apiKeyId?: string | undefined;
  consumer?: string | undefined;
  tenant?: string | undefined;
  /** Claims of a verified JWT. */
  claims?: Record<string, unknown> | undefined;
  /** Request headers, lower-case names (Node's IncomingHttpHeaders fits). */
  headers: Record<string, string | string[] | undefined>;
}

/** The value every request shares under a Global key. */
export const GLOBAL_KEY = "*";

/**
 * IPv4 as is; IPv6 by its /64, because one subscriber usually holds a whole /64 and could
 * otherwise rotate through 2^64 addresses. IPv4-mapped IPv6 counts as the IPv4 address.
 * Undefined when the address does not parse (a proxy sent garbage): the missing bucket.
 */
export function clientIpKey(address: string, ipv6PrefixLength = 64): string | undefined {
  return ipv6PrefixLength === 64
    ? clientIpKeys.get(address, () => parseClientIp(address, 64))
    : parseClientIp(address, ipv6PrefixLength);
}

const clientIpKeys = new BoundedCache<string | undefined>(10_000);

function parseClientIp(address: string, ipv6PrefixLength: number): string | undefined {
  const bare = address.trim().replace(/^\[(.*)\]$/, "$1");
  if (!ipaddr.isValid(bare)) return undefined;
  let ip = ipaddr.parse(bare);
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.kind() === "ipv4") return ip.toString();
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${ipv6PrefixLength}`);
  return `${network.toString()}/${ipv6PrefixLength}`;
}

/** Repeated header lines combine as one comma-separated value (RFC 9110 §5.3). */
export function headerKey(headers: KeySources["headers"], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  const value = Array.isArray(v) ? v.join(", ") : v;
  return value ? value : undefined;
}

/**
 * A claim by name, dots for nested claims (`org.id`). A top-level claim whose name itself
 * contains dots (`https://example.com/org`) is found first, as written. Strings, numbers and
 * booleans count by their text; objects and arrays by their JSON.
 */
export function claimKey(claims: Record<string, unknown> | undefined, path: string): string | undefined {
  if (!claims) return undefined;
  let value: unknown = Object.hasOwn(claims, path) ? claims[path] : undefined;
  if (value === undefined) {
    value = claims;
    for (const part of path.split(".")) {
      if (value === null || typeof value !== "object" || !Object.hasOwn(value, part)) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
  }
  if (value === null || value === undefined || value === "") return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function keyValue(key: RateLimitRule["key"], src: KeySources): string | undefined {
  switch (key.type) {
    case "ClientIP":
      return clientIpKey(src.clientIp);
    case "ApiKey":
      return src.apiKeyId || undefined;
    case "Consumer":
      return src.consumer || undefined;
    case "Tenant":
      return src.tenant || undefined;
    case "JWTClaim":
      return key.claim ? claimKey(src.claims, key.claim) : undefined;
    case "Header":
      return key.header ? headerKey(src.headers, key.header) : undefined;
    case "Global":
      return GLOBAL_KEY;
    default:
      return undefined;
  }
}
