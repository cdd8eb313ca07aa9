import ipaddr from 'ipaddr.js';

/** The verdict on one IP address: may a session reach it (internal hosts aside)? */
export interface AddressClass {
  readonly allowed: boolean;
  /** ipaddr.js range name (`unicast`, `private`, `loopback`, `linkLocal`, …) or one of ours. */
  readonly range: string;
  /** Canonical text of the address (what the dialer is given), or the input when unparsable. */
  readonly address: string;
  /** For IPv6 forms that carry an IPv4 address: the embedded address that decided. */
  readonly embedded?: string;
}

/** IANA's global unicast block: every other IPv6 space is unassigned or special. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
/** The well-known NAT64 prefix (RFC 6052) whose last 32 bits are the IPv4 address. */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/**
 * Classifies an address by ipaddr.js's special ranges. Only `unicast` is allowed:
 *
 * - IPv4: loopback, `private` (RFC 1918), linkLocal (169.254/16, cloud metadata),
 *   carrierGradeNat (100.64/10), unspecified (0/8), multicast, broadcast, reserved (incl. the
 *   documentation and benchmarking ranges and 240/4), as112 and amt are refused.
 * - IPv6: loopback, unspecified, uniqueLocal, linkLocal, multicast, reserved (incl. 2001:db8::/32),
 *   benchmarking, discard, site-local and every other named range are refused, as is anything
 *   outside 2000::/3 (unassigned space). Zone ids are refused.
 * - IPv4 inside IPv6: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (RFC 6145) and
 *   IPv4-compatible (`::a.b.c.d`) are refused outright: DNS has no business returning them and a
 *   dual-stack socket would reach the embedded address. The local-use NAT64 prefix
 *   64:ff9b:1::/48 is refused (where it embeds the address is network-specific). The well-known
 *   NAT64 prefix 64:ff9b::/96, 6to4 (2002::/16) and Teredo (both its server and its client
 *   address) are judged by the IPv4 address they embed.
 */
export function classifyAddress(address: string): AddressClass {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return { allowed: false, range: 'invalid', address };
  }
  return parsed.kind() === 'ipv4' ? classifyV4(parsed as ipaddr.IPv4) : classifyV6(parsed as ipaddr.IPv6);
}

function classifyV4(a: ipaddr.IPv4): AddressClass {
  const range = a.range();
  return { allowed: range === 'unicast', range, address: a.toString() };
}

function classifyV6(a: ipaddr.IPv6): AddressClass {
  const address = a.toString();
  if (a.zoneId !== undefined) return { allowed: false, range: 'zoned', address };
  const range = a.range();
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return { allowed: false, range, address, embedded: v4From(a.parts[6]!, a.parts[7]!).toString() };
    case 'rfc6052':
      if (!a.match(NAT64_WELL_KNOWN)) return { allowed: false, range, address };
      return byEmbedded(range, address, [v4From(a.parts[6]!, a.parts[7]!)]);
    case '6to4':
      return byEmbedded(range, address, [v4From(a.parts[1]!, a.parts[2]!)]);
    case 'teredo':
      // Server address in the clear, client address with every bit inverted (RFC 4380).
      return byEmbedded(range, address, [v4From(a.parts[2]!, a.parts[3]!), v4From(~a.parts[6]! & 0xffff, ~a.parts[7]! & 0xffff)]);
    case 'unicast':
      if (a.parts.slice(0, 6).every((p) => p === 0)) {
        return { allowed: false, range: 'ipv4Compatible', address, embedded: v4From(a.parts[6]!, a.parts[7]!).toString() };
      }
      if (!a.match(GLOBAL_UNICAST_V6)) return { allowed: false, range: 'unassigned', address };
      return { allowed: true, range, address };
    default:
      return { allowed: false, range, address };
  }
}

/** Allowed only when every embedded IPv4 address is. */
function byEmbedded(range: string, address: string, embedded: ipaddr.IPv4[]): AddressClass {
  const refused = embedded.map(classifyV4).find((c) => !c.allowed);
  const decisive = refused ?? classifyV4(embedded[0]!);
  return { allowed: !refused, range: refused ? `${range}:${refused.range}` : range, address, embedded: decisive.address };
}

function v4From(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}
