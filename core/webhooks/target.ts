import { isIP } from 'node:net';
import type { Config } from '../config.ts';
import type { InternalHost } from '../internal-hosts.ts';
import { classifyAddress } from '../net/address-class.ts';
import { ResolveError, StaticResolver, SystemResolver, type NameResolver } from '../net/resolver.ts';
import { isDomainName } from '../network-policy.ts';

/** Why a webhook URL cannot be delivered to. */
export type TargetRefusalReason =
  | 'invalid_url' | 'scheme_refused' | 'address_refused' | 'dns_not_found' | 'dns_timeout' | 'dns_failed';

export class TargetRefusal extends Error {
  constructor(readonly reason: TargetRefusalReason, message: string) {
    super(message);
    this.name = 'TargetRefusal';
  }

  /** DNS may answer otherwise later (a new name may not have propagated yet); anything else stays refused. */
  get transient(): boolean {
    return this.reason.startsWith('dns_');
  }
}

/** Where one delivery attempt goes: the exact addresses checked, in dialling order. */
export interface CheckedTarget {
  readonly url: URL;
  /** Lower-case host name or IP literal (IPv6 without brackets): `Host` header and TLS name. */
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Addresses that passed the address classes (or an internal host's own). Dial only these. */
  readonly addresses: readonly string[];
  /** True for a `WEBHOOK_INTERNAL_HOSTS` name. */
  readonly internal: boolean;
}

/** Longest webhook URL, characters. */
export const MAX_URL_LENGTH = 2048;

/**
 * The address policy of webhook targets, the egress proxy's own (`core/net/`): `https` to
 * addresses of the public unicast classes only — a name whose A/AAAA records include one refused
 * address is refused — except operator-named `WEBHOOK_INTERNAL_HOSTS`, reached at their own
 * address with no DNS query, where plain `http` is allowed too. Run at registration and again
 * before every attempt; the attempt dials exactly the addresses returned.
 */
export class TargetChecker {
  private readonly internal: ReadonlyMap<string, InternalHost>;

  constructor(private readonly resolver: NameResolver, internalHosts: readonly InternalHost[]) {
    this.internal = new Map(internalHosts.map((h) => [h.name, h]));
  }

  /** @throws TargetRefusal */
  async check(raw: string): Promise<CheckedTarget> {
    const url = parseUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    const tls = url.protocol === 'https:';
    const port = url.port ? Number(url.port) : tls ? 443 : 80;
    const internal = this.internal.get(host);
    if (internal) return { url, host, port: internal.port ?? port, tls, addresses: [internal.address], internal: true };
    if (!tls) throw new TargetRefusal('scheme_refused', 'webhook URLs must be https (plain http only for WEBHOOK_INTERNAL_HOSTS)');
    if (isIP(host)) return { url, host, port, tls, addresses: allowed([host], host), internal: false };
    if (!isDomainName(host)) throw new TargetRefusal('invalid_url', `${host} is not a domain name`);
    return { url, host, port, tls, addresses: allowed(await this.resolve(host), host), internal: false };
  }

  private async resolve(host: string): Promise<string[]> {
    try {
      return (await this.resolver.resolve(host)).map((a) => a.address);
    } catch (err) {
      if (!(err instanceof ResolveError)) throw err;
      const reason = err.failure === 'not_found' ? 'dns_not_found' : err.failure === 'timeout' ? 'dns_timeout' : 'dns_failed';
      throw new TargetRefusal(reason, err.message);
    }
  }
}

/** The resolver webhook targets are checked with: the egress proxy's kind (`EGRESS_RESOLVER`). */
export function webhookResolver(cfg: Pick<Config, 'EGRESS_RESOLVER' | 'EGRESS_DNS_TIMEOUT_MS'>): NameResolver {
  return cfg.EGRESS_RESOLVER === 'static' ? new StaticResolver() : new SystemResolver({ timeoutMs: cfg.EGRESS_DNS_TIMEOUT_MS });
}

function parseUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw new TargetRefusal('invalid_url', `URL longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusal('invalid_url', 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefusal('scheme_refused', 'webhook URLs must be https');
  if (url.username || url.password) throw new TargetRefusal('invalid_url', 'credentials in the URL are not allowed');
  if (url.port === '0') throw new TargetRefusal('invalid_url', 'port 0 is not a port');
  return url;
}

/** Canonical addresses, all of the allowed classes, or a refusal naming the first that is not. */
function allowed(addresses: string[], host: string): string[] {
  const classes = addresses.map(classifyAddress);
  const bad = classes.find((c) => !c.allowed);
  if (bad) {
    const what = bad.address === host ? bad.address : `${host} resolves to ${bad.address}`;
    throw new TargetRefusal('address_refused', `${what}, a ${bad.range} address, may not receive webhooks`);
  }
  return classes.map((c) => c.address);
}
