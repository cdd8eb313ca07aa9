import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EGRESS_LOG_MAX, EgressLog, type EgressLogEntry } from '../core/egress-log.ts';
import { createRedis, Keys } from '../core/redis.ts';

const entry = (i: number, over: Partial<EgressLogEntry> = {}): EgressLogEntry => ({
  at: '2026-03-01T12:00:00.000Z', method: 'CONNECT', host: `h${i}.example.org`, port: 443, address: '93.184.216.34',
  decision: 'allowed', reason: 'public', bytesIn: 1000, bytesOut: 100, durationMs: 50, ...over,
});

describe('EgressLog (real Redis)', () => {
  const redis = createRedis(inject('redisUrl'));
  const keys = new Keys(`egresslog-test-${randomBytes(4).toString('hex')}`);
  const log = new EgressLog(redis, keys, 600);

  beforeAll(async () => {
    expect(await redis.ping()).toBe('PONG');
  });
  afterAll(async () => {
    const leftovers = await redis.keys(`${keys.prefix}:*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    redis.disconnect();
  });

  it('keeps a session\'s entries newest first, with a TTL', async () => {
    for (let i = 0; i < 3; i++) await log.record('ses_a', entry(i));
    expect((await log.latest('ses_a', 10)).map((e) => e.host)).toEqual(['h2.example.org', 'h1.example.org', 'h0.example.org']);
    expect(await log.latest('ses_a', 2)).toHaveLength(2);
    expect(await log.latest('ses_a', 0)).toEqual([]);
    expect(await log.latest('ses_other', 10)).toEqual([]);
    const ttl = await redis.ttl(`${keys.prefix}:egress:ses_a`);
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('keeps at most 1000 entries per session', async () => {
    const pipe = Array.from({ length: EGRESS_LOG_MAX + 50 }, (_, i) => log.record('ses_b', entry(i)));
    await Promise.all(pipe);
    expect(await redis.llen(`${keys.prefix}:egress:ses_b`)).toBe(EGRESS_LOG_MAX);
    const latest = await log.latest('ses_b', 5000);
    expect(latest).toHaveLength(EGRESS_LOG_MAX);
    expect(latest[0]!.host).toBe(`h${EGRESS_LOG_MAX + 49}.example.org`);
  });

  it('counts an account\'s egress bytes per UTC day of the entry\'s end', async () => {
    await log.record('ses_c', entry(1, { bytesIn: 5000, bytesOut: 700 }), 'acme');
    await log.record('ses_c', entry(2, { bytesIn: 0, bytesOut: 0, decision: 'denied', reason: 'address_refused' }), 'acme');
    // Starts before midnight, ends after it: counted on the day it ended.
    await log.record('ses_d', entry(3, { at: '2026-03-01T23:59:59.000Z', durationMs: 2000, bytesIn: 10, bytesOut: 1 }), 'acme');
    await log.record('ses_e', entry(4, { bytesIn: 999 }), 'other');
    await log.record('ses_f', entry(5, { bytesIn: 999 }));
    expect(await log.egressBytes('acme', ['2026-02-28', '2026-03-01', '2026-03-02'])).toEqual([
      { date: '2026-02-28', bytesIn: 0, bytesOut: 0, egressBytes: 0, connections: 0, denied: 0 },
      { date: '2026-03-01', bytesIn: 5000, bytesOut: 700, egressBytes: 5700, connections: 2, denied: 1 },
      { date: '2026-03-02', bytesIn: 10, bytesOut: 1, egressBytes: 11, connections: 1, denied: 0 },
    ]);
    const ttl = await redis.ttl(`${keys.prefix}:egress-usage:acme:2026-03-01`);
    expect(ttl).toBeGreaterThan(399 * 86_400);
  });

  it('clears a session\'s log', async () => {
    await log.record('ses_g', entry(1));
    await log.clear('ses_g');
    expect(await log.latest('ses_g', 10)).toEqual([]);
  });
});
