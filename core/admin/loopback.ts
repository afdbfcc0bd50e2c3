// Admin endpoints that change something accept, without a token, only connections from
// this host itself: both processes' admin listeners ask the same question the same way.

/** A connection from this host itself (IPv4, IPv6, or IPv4 mapped into IPv6). */
export function isLoopback(remote: string | undefined): boolean {
  return remote === "127.0.0.1" || remote === "::1" || remote === "::ffff:127.0.0.1";
}
