import type { InternalHost } from '../../core/internal-hosts.ts';
import type { EgressPolicy } from '../../core/network-policy.ts';
import { refusal, type Refusal } from './refusals.ts';
import { formatTarget, type Target } from './target.ts';

/** How a request got past the name policy; `dialPort` is where it will be dialled. */
export interface Admission {
  readonly via: 'public' | 'allowlist' | 'internal';
  readonly dialPort: number;
  /** Set for an operator-named internal host: dial its address, no DNS, no address check. */
  readonly internal?: InternalHost;
}

/**
 * True when `host` matches a list entry: `example.org` matches that name only, `*.example.org`
 * matches every name below it at any depth (`a.example.org`, `a.b.example.org`) but not
 * `example.org` itself. IP literals match nothing (entries are names).
 */
export function matchesPattern(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

/**
 * The policy's verdict on a target before any DNS: the level, deny (wins), allow, and ports.
 * Internal hosts obey the level and both lists like any name, but not the port list: the operator
 * named them with their port (or all ports).
 */
export function admit(policy: EgressPolicy, target: Target, internal: InternalHost | undefined): Admission | Refusal {
  const where = formatTarget(target);
  if (policy.egress === 'none') return refusal('egress_none', `this session has no network access (${where})`);
  if (!target.ip && policy.deny.some((p) => matchesPattern(target.host, p))) {
    return refusal('denied_by_policy', `${target.host} is on this session's deny list`);
  }
  if (policy.egress === 'allowlist' && (target.ip || !policy.allow.some((p) => matchesPattern(target.host, p)))) {
    return refusal('not_allowlisted', `${target.host} is not on this session's allow list`);
  }
  if (internal) return { via: 'internal', dialPort: internal.port ?? target.port, internal };
  if (!policy.ports.includes(target.port)) {
    return refusal('port_not_allowed', `port ${target.port} is not allowed (allowed: ${policy.ports.join(', ')})`);
  }
  return { via: policy.egress === 'allowlist' ? 'allowlist' : 'public', dialPort: target.port };
}
