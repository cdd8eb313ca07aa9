import { describe, expect, it } from 'vitest';
import type { EgressPolicy } from '../../core/network-policy.ts';
import { admit, matchesPattern } from './policy.ts';
import type { Target } from './target.ts';

const name = (host: string, port = 443): Target => ({ host, port, ip: false });
const ip = (host: string, port = 443): Target => ({ host, port, ip: true });
const policy = (p: Partial<EgressPolicy>): EgressPolicy => ({ egress: 'public', allow: [], deny: [], ports: [80, 443], ...p });
const reason = (v: ReturnType<typeof admit>) => ('refused' in v ? v.reason : v.via);

describe('matchesPattern', () => {
  it('matches a plain name exactly', () => {
    expect(matchesPattern('example.org', 'example.org')).toBe(true);
    expect(matchesPattern('www.example.org', 'example.org')).toBe(false);
    expect(matchesPattern('badexample.org', 'example.org')).toBe(false);
  });

  it('matches a glob below its apex at any depth, not the apex itself', () => {
    expect(matchesPattern('a.example.org', '*.example.org')).toBe(true);
    expect(matchesPattern('a.b.example.org', '*.example.org')).toBe(true);
    expect(matchesPattern('example.org', '*.example.org')).toBe(false);
    expect(matchesPattern('badexample.org', '*.example.org')).toBe(false);
    expect(matchesPattern('.example.org', '*.example.org')).toBe(false);
  });
});

describe('admit', () => {
  it('refuses everything under none', () => {
    expect(reason(admit(policy({ egress: 'none' }), name('example.org'), undefined))).toBe('egress_none');
    expect(reason(admit(policy({ egress: 'none' }), name('fixture.test'), { name: 'fixture.test', address: '127.0.0.1' }))).toBe('egress_none');
  });

  it('lets public names and IP literals through on allowed ports only', () => {
    expect(admit(policy({}), name('example.org'), undefined)).toEqual({ via: 'public', dialPort: 443 });
    expect(reason(admit(policy({}), ip('8.8.8.8', 80), undefined))).toBe('public');
    expect(reason(admit(policy({}), name('example.org', 22), undefined))).toBe('port_not_allowed');
    expect(reason(admit(policy({ ports: [8443] }), name('example.org', 8443), undefined))).toBe('public');
  });

  it('applies the deny list under public, and deny wins over allow', () => {
    expect(reason(admit(policy({ deny: ['*.evil.test'] }), name('x.evil.test'), undefined))).toBe('denied_by_policy');
    const p = policy({ egress: 'allowlist', allow: ['*.example.org'], deny: ['secret.example.org'] });
    expect(reason(admit(p, name('api.example.org'), undefined))).toBe('allowlist');
    expect(reason(admit(p, name('secret.example.org'), undefined))).toBe('denied_by_policy');
    expect(reason(admit(p, name('example.org'), undefined))).toBe('not_allowlisted');
    expect(reason(admit(p, name('other.org'), undefined))).toBe('not_allowlisted');
  });

  it('never allowlists an IP literal', () => {
    expect(reason(admit(policy({ egress: 'allowlist', allow: ['example.org'] }), ip('93.184.216.34'), undefined))).toBe('not_allowlisted');
  });

  it('dials internal hosts on their own port, or the request port, ignoring the port list', () => {
    expect(admit(policy({}), name('fixture.test', 34567), { name: 'fixture.test', address: '127.0.0.1' }))
      .toEqual({ via: 'internal', dialPort: 34567, internal: { name: 'fixture.test', address: '127.0.0.1' } });
    expect(admit(policy({}), name('mirror.test', 80), { name: 'mirror.test', address: '10.0.0.5', port: 4873 }))
      .toMatchObject({ via: 'internal', dialPort: 4873 });
    const allow = policy({ egress: 'allowlist', allow: ['example.org'] });
    expect(reason(admit(allow, name('fixture.test'), { name: 'fixture.test', address: '127.0.0.1' }))).toBe('not_allowlisted');
    expect(reason(admit(policy({ deny: ['fixture.test'] }), name('fixture.test'), { name: 'fixture.test', address: '127.0.0.1' }))).toBe('denied_by_policy');
  });
});
