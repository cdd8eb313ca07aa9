import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BuntimeError } from './errors.ts';
import {
  allowImplicitly, DEFAULT_PLAN_NETWORK, effectivePolicy, NO_EGRESS, parseStoredPolicy, isDomainName, isDomainPattern, networkRequestSchema, planNetworkSchema,
  type PlanNetwork,
} from './network-policy.ts';

const free: PlanNetwork = { default: 'public', allowCustom: false, ports: [80, 443] };
const paid: PlanNetwork = { default: 'public', allowCustom: true, ports: [80, 443, 8080] };
const closed: PlanNetwork = { default: 'none', allowCustom: false, ports: [443] };

/** As the API would embed it: issues carry `network.…` paths. */
const createBody = z.object({ network: networkRequestSchema.optional() });
const fieldsOf = (body: unknown) => {
  const r = createBody.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

describe('domain names and patterns', () => {
  it('accepts names and globs of names', () => {
    for (const ok of ['example.org', 'a-b.example.org', 'xn--bcher-kva.example', 'localhost', 'registry.npmjs.org']) {
      expect(isDomainName(ok), ok).toBe(true);
    }
    expect(isDomainPattern('*.example.org')).toBe(true);
  });

  it('refuses IP literals, bad labels, bare or inner wildcards and over-long names', () => {
    for (const bad of ['10.0.0.1', '1.2.3.4', '[::1]', '::1', '-a.org', 'a-.org', 'a..org', '.org', 'a_b.org', 'Ex.org', '', `${'a'.repeat(64)}.org`, `${'a.'.repeat(127)}org`]) {
      expect(isDomainName(bad), bad).toBe(false);
    }
    for (const bad of ['*', '*.', '**.a.org', 'a.*.org', '*a.org', '*.10.0.0.1']) {
      expect(isDomainPattern(bad), bad).toBe(false);
    }
  });
});

describe('networkRequestSchema', () => {
  it('takes the three levels and lower-cases list entries', () => {
    expect(networkRequestSchema.parse({ egress: 'public' })).toEqual({ egress: 'public' });
    expect(networkRequestSchema.parse({ egress: 'none' })).toEqual({ egress: 'none' });
    expect(networkRequestSchema.parse({ egress: 'allowlist', allow: ['API.Example.org', '*.cdn.example.org'], deny: ['bad.example.org'] }))
      .toEqual({ egress: 'allowlist', allow: ['api.example.org', '*.cdn.example.org'], deny: ['bad.example.org'] });
  });

  it('names the offending field for details.field', () => {
    expect(fieldsOf({ network: { egress: 'everything' } })).toEqual(['network.egress']);
    expect(fieldsOf({ network: { egress: 'allowlist', allow: ['ok.org', '10.0.0.1'] } })).toEqual(['network.allow.1']);
    expect(fieldsOf({ network: { egress: 'public', deny: ['*'] } })).toEqual(['network.deny.0']);
    expect(fieldsOf({ network: { egress: 'public', allow: ['a.org'] } })).toEqual(['network.allow']);
    expect(fieldsOf({ network: { egress: 'allowlist' } })).toEqual(['network.allow']);
    expect(fieldsOf({ network: { egress: 'public', extra: 1 } })).toEqual(['network']);
  });

  it('caps each list at 100 entries', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `h${i}.example.org`);
    expect(fieldsOf({ network: { egress: 'allowlist', allow: list(100), deny: list(100) } })).toEqual([]);
    expect(fieldsOf({ network: { egress: 'allowlist', allow: list(101) } })).toEqual(['network.allow']);
    expect(fieldsOf({ network: { egress: 'public', deny: list(101) } })).toEqual(['network.deny']);
  });
});

describe('planNetworkSchema', () => {
  it('defaults a plan without a network section to public, not customisable, ports 80 and 443', () => {
    expect(planNetworkSchema.parse(undefined)).toEqual({ default: 'public', allowCustom: false, ports: [80, 443] });
    expect(DEFAULT_PLAN_NETWORK.ports).toEqual([80, 443]);
  });

  it('refuses allowlist as a default, bad ports and unknown keys', () => {
    expect(planNetworkSchema.safeParse({ default: 'allowlist', allowCustom: true, ports: [443] }).success).toBe(false);
    expect(planNetworkSchema.safeParse({ default: 'public', allowCustom: true, ports: [0] }).success).toBe(false);
    expect(planNetworkSchema.safeParse({ default: 'public', allowCustom: true, ports: [] }).success).toBe(false);
    expect(planNetworkSchema.safeParse({ default: 'public', allowCustom: true, ports: [443], x: 1 }).success).toBe(false);
  });
});

describe('effectivePolicy', () => {
  it('gives the plan default when nothing is asked', () => {
    expect(effectivePolicy(free)).toEqual({ egress: 'public', allow: [], deny: [], ports: [80, 443] });
    expect(effectivePolicy(closed)).toEqual({ egress: 'none', allow: [], deny: [], ports: [443] });
  });

  it('always grants none: narrowing is not a privilege', () => {
    expect(effectivePolicy(free, { egress: 'none' }).egress).toBe('none');
    expect(effectivePolicy(closed, { egress: 'none', deny: ['a.org'] })).toEqual({ egress: 'none', allow: [], deny: [], ports: [443] });
  });

  it('grants the plan default asked for explicitly without lists', () => {
    expect(effectivePolicy(free, { egress: 'public' }).egress).toBe('public');
  });

  it('refuses widening or customising when the plan does not allow it', () => {
    const forbidden = (plan: PlanNetwork, req: Parameters<typeof effectivePolicy>[1]) => {
      try {
        effectivePolicy(plan, req);
      } catch (err) {
        return err instanceof BuntimeError && err.code === 'forbidden' && err.status === 403 && err.details.field === 'network';
      }
      return false;
    };
    expect(forbidden(closed, { egress: 'public' })).toBe(true);
    expect(forbidden(free, { egress: 'allowlist', allow: ['a.org'] })).toBe(true);
    expect(forbidden(free, { egress: 'public', deny: ['a.org'] })).toBe(true);
  });

  it('grants custom policies on a plan that allows them, lists de-duplicated, ports from the plan', () => {
    const p = effectivePolicy(paid, { egress: 'allowlist', allow: ['a.org', '*.a.org', 'a.org'], deny: ['x.a.org'] });
    expect(p).toEqual({ egress: 'allowlist', allow: ['a.org', '*.a.org'], deny: ['x.a.org'], ports: [80, 443, 8080] });
    expect(Object.isFrozen(p) && Object.isFrozen(p.allow) && Object.isFrozen(p.ports)).toBe(true);
    expect(effectivePolicy({ ...paid, default: 'none' }, { egress: 'public' }).egress).toBe('public');
  });
});

describe('stored policies', () => {
  it('round-trip through JSON', () => {
    const p = effectivePolicy(paid, { egress: 'allowlist', allow: ['example.org'], deny: ['*.bad.example.org'] });
    expect(parseStoredPolicy(JSON.stringify(p))).toEqual(p);
  });

  it('read as no egress when unreadable: a bad record never widens egress', () => {
    for (const bad of ['', 'not json', '{}', '{"egress":"everything","allow":[],"deny":[],"ports":[80]}', 'null']) {
      expect(parseStoredPolicy(bad), bad).toEqual(NO_EGRESS);
    }
  });
});

describe('allowImplicitly', () => {
  const allowlist = effectivePolicy(paid, { egress: 'allowlist', allow: ['example.org'] });

  it('adds names to an allowlist, once', () => {
    expect(allowImplicitly(allowlist, ['Registry.Example.net']).allow).toEqual(['example.org', 'registry.example.net']);
    expect(allowImplicitly(allowlist, ['example.org'])).toBe(allowlist);
  });

  it('leaves none, public and IP literals alone', () => {
    const none = effectivePolicy(paid, { egress: 'none' });
    const open = effectivePolicy(paid, { egress: 'public' });
    expect(allowImplicitly(none, ['registry.example.net'])).toBe(none);
    expect(allowImplicitly(open, ['registry.example.net'])).toBe(open);
    expect(allowImplicitly(allowlist, ['10.0.0.5', '[fd00::1]'])).toBe(allowlist);
  });
});
