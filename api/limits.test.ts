import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPlans } from '../core/plans.ts';
import { executionTimeout, sessionLimits, sessionTtl } from './limits.ts';

const plans = loadPlans(fileURLToPath(new URL('../config/plans.json', import.meta.url)));

describe('plan limits', () => {
  it('gives the free plan its defaults and refuses resourceLimits with 403', () => {
    expect(sessionLimits(plans.free, 'free', {})).toEqual({ memory: 1024, cpu: 0.25, timeout: 30, disk: 1024 });
    expect(() => sessionLimits(plans.free, 'free', { resourceLimits: { memory: 512 } })).toThrow(expect.objectContaining({ code: 'forbidden', status: 403 }));
  });

  it('lets a paid plan ask up to its ceilings, not beyond', () => {
    expect(sessionLimits(plans.paid, 'paid', { resourceLimits: { memory: 4096, cpu: 1 } })).toMatchObject({ memory: 4096, cpu: 1, timeout: 30 });
    expect(() => sessionLimits(plans.paid, 'paid', { resourceLimits: { memory: 4097 } }))
      .toThrow(expect.objectContaining({ code: 'invalid_request', details: expect.objectContaining({ field: 'resourceLimits.memory' }) }));
  });

  it('checks ttl against the plan maximum', () => {
    expect(sessionTtl(plans.free, {})).toBe(86_400);
    expect(() => sessionTtl(plans.free, { ttl: 86_401 })).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(sessionTtl(plans.paid, { ttl: 604_800 })).toBe(604_800);
  });

  it('defaults an execution timeout to the session and caps it at the plan', () => {
    const session = { memory: 1024, cpu: 0.25, timeout: 12, disk: 1024 };
    expect(executionTimeout(plans.free, session, undefined)).toBe(12);
    expect(executionTimeout(plans.free, session, 30)).toBe(30);
    expect(() => executionTimeout(plans.free, session, 31)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});
