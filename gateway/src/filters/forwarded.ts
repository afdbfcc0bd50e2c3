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
  const prior = (v: string | string[] | undefined) =>
    trusted && v !== undefined ? (Array.isArray(v) ? v.join(", ") : v) : undefined;
  const xff = prior(incoming["x-forwarded-for"]);
  headers["x-forwarded-for"] = xff ? `${xff}, ${peer}` : peer;
  headers["x-forwarded-proto"] = prior(incoming["x-forwarded-proto"]) ?? proto;
  const forwardedHost = prior(incoming["x-forwarded-host"]) ?? host;
  if (forwardedHost) headers["x-forwarded-host"] = forwardedHost;
  else delete headers["x-forwarded-host"];
  const quoted = host?.replace(/["\\]/g, "\\$&");
  const element = `for=${forwardedNode(peer)};proto=${proto}${quoted ? `;host="${quoted}"` : ""}`;
  const forwarded = prior(incoming.forwarded);
  headers.forwarded = forwarded ? `${forwarded}, ${element}` : element;
}
