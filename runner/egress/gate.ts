import type { InternalHost } from '../../core/internal-hosts.ts';
import type { EgressPolicy } from '../../core/network-policy.ts';
import { classifyAddress } from './address-class.ts';
import { admit, type Admission } from './policy.ts';
import { refusal, type Refusal } from './refusals.ts';
import { ResolveError, type NameResolver } from './resolver.ts';
import type { Target } from './target.ts';

/**
 * The policy point: decides, per request, whether a target may be reached and which exact
 * addresses may be dialled. It never dials; the proxy dials only what {@link addresses} returned.
 */
export class EgressGate {
  private readonly internal: ReadonlyMap<string, InternalHost>;

  constructor(private readonly resolver: NameResolver, internalHosts: readonly InternalHost[]) {
    this.internal = new Map(internalHosts.map((h) => [h.name, h]));
  }

  /** The name/port verdict, with no DNS (cheap; runs before a connection slot is taken). */
  admit(policy: EgressPolicy, target: Target): Admission | Refusal {
    return admit(policy, target, target.ip ? undefined : this.internal.get(target.host));
  }

  /**
   * The addresses to dial, in order: an internal host's own address (no DNS); an IP literal if
   * its class is allowed; else every A/AAAA address of the name, all of which must be allowed —
   * one refused address refuses the request (a public name that also resolves to a private
   * address is a rebinding attempt or a misconfiguration either way).
   */
  async addresses(target: Target, admission: Admission): Promise<string[] | Refusal> {
    if (admission.internal) return [admission.internal.address];
    if (target.ip) return checked([target.host], target.host);
    try {
      const resolved = await this.resolver.resolve(target.host);
      return checked(resolved.map((r) => r.address), target.host);
    } catch (err) {
      if (!(err instanceof ResolveError)) throw err;
      const reason = err.failure === 'not_found' ? 'dns_not_found' : err.failure === 'timeout' ? 'dns_timeout' : 'dns_failed';
      return refusal(reason, err.message);
    }
  }
}

function checked(addresses: string[], host: string): string[] | Refusal {
  const classes = addresses.map(classifyAddress);
  const bad = classes.find((c) => !c.allowed);
  if (bad) {
    const what = bad.address === host ? bad.address : `${host} resolves to ${bad.address}`;
    return refusal('address_refused', `${what}, a ${bad.range} address, is not reachable from a session`, bad.address);
  }
  return classes.map((c) => c.address);
}
