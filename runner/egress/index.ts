import type { Config } from '../../core/config.ts';
import { NetDialer } from './dialer.ts';
import { EgressProxy } from './proxy.ts';
import { StaticResolver, SystemResolver } from './resolver.ts';

export { classifyAddress, type AddressClass } from './address-class.ts';
export { DialError, NetDialer, type Dialer, type DialerStats } from './dialer.ts';
export { EgressProxy, type EgressConnections, type EgressProxyOptions } from './proxy.ts';
export { REFUSALS, type RefusalReason } from './refusals.ts';
export { ResolveError, StaticResolver, SystemResolver, type NameResolver, type ResolvedAddress } from './resolver.ts';
export type { EgressSession } from './session.ts';

type EgressConfig = Pick<Config,
  | 'EGRESS_INTERNAL_HOSTS' | 'EGRESS_RESOLVER' | 'EGRESS_STATIC_HOSTS' | 'EGRESS_DNS_TIMEOUT_MS' | 'EGRESS_TEST_GUARD'
  | 'EGRESS_MAX_CONNECTIONS_PER_SESSION' | 'EGRESS_MAX_CONNECTIONS_PER_NODE' | 'EGRESS_CONNECT_TIMEOUT_MS'>;

/**
 * The node's egress proxy as configured, with its dialer (whose `stats` count dials and
 * test-guard refusals).
 */
export function createEgressProxy(cfg: EgressConfig): { proxy: EgressProxy; dialer: NetDialer } {
  const resolver = cfg.EGRESS_RESOLVER === 'static' ? new StaticResolver(cfg.EGRESS_STATIC_HOSTS) : new SystemResolver({ timeoutMs: cfg.EGRESS_DNS_TIMEOUT_MS });
  const dialer = new NetDialer({ testGuard: cfg.EGRESS_TEST_GUARD });
  const proxy = new EgressProxy({
    resolver, dialer, internalHosts: cfg.EGRESS_INTERNAL_HOSTS,
    maxConnectionsPerSession: cfg.EGRESS_MAX_CONNECTIONS_PER_SESSION,
    maxConnectionsPerNode: cfg.EGRESS_MAX_CONNECTIONS_PER_NODE,
    connectTimeoutMs: cfg.EGRESS_CONNECT_TIMEOUT_MS,
  });
  return { proxy, dialer };
}
