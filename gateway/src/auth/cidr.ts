// Address ranges, parsed once. An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is treated
// as the IPv4 address it carries, so a range cannot be dodged by writing it the other way.
import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class CidrSet {
  readonly #ranges: Range[];

  /** Throws on a range that is not a CIDR (compile has already refused those). */
  constructor(cidrs: readonly string[]) {
    this.#ranges = cidrs.map((c) => {
      const [address, bits] = ipaddr.parseCIDR(c);
      if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96] as Range;
      }
      return [address, bits] as Range;
    });
  }

  get size(): number {
    return this.#ranges.length;
  }

  /** False for an address that does not parse: an unknown client is in no range. */
  contains(address: string): boolean {
    const parsed = parseAddress(address);
    if (!parsed) return false;
    return this.#ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
  }
}

export function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  // Zone ids (fe80::1%eth0) are local detail; ipaddr.js refuses them in process().
  const bare = address.includes("%") ? address.slice(0, address.indexOf("%")) : address;
  if (!ipaddr.isValid(bare)) return undefined;
  return ipaddr.process(bare);
}
