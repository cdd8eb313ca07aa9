import { isIP } from 'node:net';
import { isDomainName } from './network-policy.ts';

/**
 * An operator-named host that sessions may reach although its address is private or loopback
 * (`EGRESS_INTERNAL_HOSTS`, e.g. a package-registry mirror). A request for `name` dials
 * `address` with no DNS query: on `port` when one is given (whatever port the request named),
 * else on the request's own port.
 */
export interface InternalHost {
  readonly name: string;
  /** An IPv4 or IPv6 literal (IPv6 without brackets). */
  readonly address: string;
  readonly port?: number;
}

const ENTRY = /^([^=\s]+)=(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/;

/**
 * Parses `name=address[:port],…` (IPv6 addresses in brackets: `name=[fd00::1]:8080`).
 * Names are lower-cased; a name may appear once.
 *
 * @throws Error listing every malformed entry
 */
export function parseInternalHosts(spec: string): InternalHost[] {
  const out: InternalHost[] = [];
  const problems: string[] = [];
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const entry = parseEntry(raw);
    if (typeof entry === 'string') problems.push(`"${raw}": ${entry}`);
    else if (out.some((h) => h.name === entry.name)) problems.push(`"${raw}": ${entry.name} is named twice`);
    else out.push(entry);
  }
  if (problems.length > 0) throw new Error(`EGRESS_INTERNAL_HOSTS: ${problems.join('; ')}`);
  return out;
}

function parseEntry(raw: string): InternalHost | string {
  const m = ENTRY.exec(raw);
  if (!m) return 'expected name=address[:port]';
  const name = m[1]!.toLowerCase().replace(/\.$/, '');
  const address = m[2] ?? m[3]!;
  if (!isDomainName(name)) return 'the name is not a domain name';
  if (isIP(address) !== (m[2] ? 6 : 4)) return 'the address is not an IPv4 literal or a bracketed IPv6 literal';
  if (m[4] === undefined) return { name, address };
  const port = Number(m[4]);
  if (port < 1 || port > 65535) return 'the port is out of range';
  return { name, address, port };
}
