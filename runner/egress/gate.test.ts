import { describe, expect, it } from 'vitest';
import type { EgressPolicy } from '../../core/network-policy.ts';
import { EgressGate } from './gate.ts';
import { isRefusal } from './refusals.ts';
import { ResolveError, type NameResolver, type ResolvedAddress } from './resolver.ts';
import { parseAuthority } from './target.ts';

const PUBLIC: EgressPolicy = { egress: 'public', allow: [], deny: [], ports: [80, 443] };

/** A resolver answering from a table, recording every name it was asked. */
function recordingResolver(table: Record<string, string[]>) {
  const asked: string[] = [];
  const resolver: NameResolver = {
    resolve: async (name) => {
      asked.push(name);
      const list = table[name];
      if (!list) throw new ResolveError(name === 'slow.test' ? 'timeout' : 'not_found', name);
      return list.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  };
  return { resolver, asked };
}

async function decide(gate: EgressGate, authority: string, policy = PUBLIC) {
  const target = parseAuthority(authority, 443, true)!;
  const admission = gate.admit(policy, target);
  if (isRefusal(admission)) return admission;
  return gate.addresses(target, admission);
}

describe('EgressGate', () => {
  const { resolver, asked } = recordingResolver({
    'ok.test': ['93.184.216.34', '2606:2800:220:1::1'],
    'mixed.test': ['93.184.216.34', '10.0.0.1'],
    'meta.test': ['169.254.169.254'],
    'v6mapped.test': ['::ffff:10.0.0.1'],
    'nat64.test': ['64:ff9b::a00:1'],
    'loop6.test': ['::1'],
  });
  const gate = new EgressGate(resolver, [
    { name: 'fixture.test', address: '127.0.0.1' },
    { name: 'mirror.test', address: '10.0.0.5', port: 4873 },
  ]);

  it('returns every address of a public name, checked', async () => {
    expect(await decide(gate, 'ok.test:443')).toEqual(['93.184.216.34', '2606:2800:220:1::1']);
  });

  it('refuses a name when any of its addresses is refused', async () => {
    expect(await decide(gate, 'mixed.test:443')).toMatchObject({ reason: 'address_refused', status: 403, address: '10.0.0.1' });
    expect(await decide(gate, 'meta.test:80')).toMatchObject({ reason: 'address_refused', address: '169.254.169.254' });
    expect(await decide(gate, 'v6mapped.test:443')).toMatchObject({ reason: 'address_refused', address: '::ffff:a00:1' });
    expect(await decide(gate, 'nat64.test:443')).toMatchObject({ reason: 'address_refused', address: '64:ff9b::a00:1' });
    expect(await decide(gate, 'loop6.test:443')).toMatchObject({ reason: 'address_refused', address: '::1' });
  });

  it('refuses refused IP literals without asking DNS', async () => {
    const before = asked.length;
    for (const a of ['169.254.169.254:80', '10.0.0.1:443', '[::1]:443', '127.0.0.1:443', '[::ffff:10.0.0.1]:443', '[64:ff9b::a00:1]:443', '2852039166:80']) {
      expect(await decide(gate, a), a).toMatchObject({ reason: 'address_refused' });
    }
    expect(asked.length).toBe(before);
  });

  it('sends internal hosts to their address with no DNS and no address check', async () => {
    const before = asked.length;
    expect(await decide(gate, 'fixture.test:34567')).toEqual(['127.0.0.1']);
    expect(await decide(gate, 'mirror.test:443')).toEqual(['10.0.0.5']);
    expect(asked.length).toBe(before);
  });

  it('maps DNS failures', async () => {
    expect(await decide(gate, 'nope.test:443')).toMatchObject({ reason: 'dns_not_found', status: 502 });
    expect(await decide(gate, 'slow.test:443')).toMatchObject({ reason: 'dns_timeout', status: 504 });
  });

  it('refuses on policy before any DNS', async () => {
    const before = asked.length;
    expect(await decide(gate, 'ok.test:443', { ...PUBLIC, egress: 'none' })).toMatchObject({ reason: 'egress_none' });
    expect(await decide(gate, 'ok.test:22')).toMatchObject({ reason: 'port_not_allowed' });
    expect(await decide(gate, 'ok.test:443', { ...PUBLIC, egress: 'allowlist', allow: ['other.test'] })).toMatchObject({ reason: 'not_allowlisted' });
    expect(asked.length).toBe(before);
  });
});
