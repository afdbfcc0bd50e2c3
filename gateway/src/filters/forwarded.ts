// Who the client is, and what the upstream is told about it. X-Forwarded-For and
// Forwarded are believed only through the configured number of trusted proxy hops in
// front of the gateway; otherwise the socket peer is the client and any incoming copies
// are replaced, so a client cannot claim another address.
import type { IncomingHttpHeaders } from "node:http";

/**
 * The client address. With `trustedHops` = N proxies in front that each append to
 * X-Forwarded-For, the client is the Nth address from the right; with fewer addresses
 * than that, the request did not come through them, so the socket peer is the client.
 */
export function clientAddress(peer: string, xff: string | string[] | undefined, trustedHops: number): string {
  if (trustedHops <= 0 || xff === undefined) return peer;
  const list = (Array.isArray(xff) ? xff.join(",") : xff).split(",");
  if (list.length < trustedHops) return peer;
  const candidate = list[list.length - trustedHops]?.trim();
  return candidate ? candidate : peer;
}

/** Strips the IPv4-mapped IPv6 prefix node reports for IPv4 peers on dual-stack sockets. */
export function peerAddress(remote: string | undefined): string {
  if (!remote) return "";
  return remote.startsWith("::ffff:") && remote.includes(".") ? remote.slice(7) : remote;
}

/** An incoming header's value, its lines joined; undefined when absent. */
function joined(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : v;
}

function forwardedNode(address: string): string {
  return address.includes(":") ? `"[${address}]"` : address;
}

/**
 * Sets X-Forwarded-For/Proto/Host and Forwarded on the upstream request headers. Incoming
 * values are kept (and extended) only when the peer is a trusted proxy.
 */
export function setForwardedHeaders(
  headers: Record<string, string | string[]>,
  incoming: IncomingHttpHeaders,
  peer: string,
  proto: "http" | "https",
  host: string | undefined,
  trusted: boolean,
) {
  const xff = trusted ? joined(incoming["x-forwarded-for"]) : undefined;
  headers["x-forwarded-for"] = xff ? `${xff}, ${peer}` : peer;
  headers["x-forwarded-proto"] = (trusted ? joined(incoming["x-forwarded-proto"]) : undefined) ?? proto;
  const forwardedHost = (trusted ? joined(incoming["x-forwarded-host"]) : undefined) ?? host;
  if (forwardedHost) headers["x-forwarded-host"] = forwardedHost;
  else delete headers["x-forwarded-host"];
  // The Host was validated (no quote or backslash can be in it); escaped anyway, should that change.
  const quoted = host && (host.includes('"') || host.includes("\\")) ? host.replace(/["\\]/g, "\\$&") : host;
  const element = `for=${forwardedNode(peer)};proto=${proto}${quoted ? `;host="${quoted}"` : ""}`;
  const forwarded = trusted ? joined(incoming.forwarded) : undefined;
  headers.forwarded = forwarded ? `${forwarded}, ${element}` : element;
}
