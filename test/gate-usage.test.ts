import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRedis, Keys } from '../core/redis.ts';
import { UsageStore } from '../core/usage.ts';
import { adminCli, deleteSessionsOf, http, newAccount, newKey } from './support/harness.ts';

type Day = { date: string; requests: number; executions: number; cpuMs: number; sessionSeconds: number };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sums of a list of days (a test may straddle a UTC midnight). */
function totals(days: Day[]) {
  const sum = (f: keyof Omit<Day, 'date'>) => days.reduce((n, d) => n + d[f], 0);
  return { requests: sum('requests'), executions: sum('executions'), cpuMs: sum('cpuMs'), sessionSeconds: sum('sessionSeconds') };
}

describe('usage', () => {
  it('counts requests, executions, CPU ms and session-seconds per key, as the test made them', async () => {
    const acc = await newAccount('free');
    const second = await newKey(acc.name, 'second');
    const made = new Map([[acc.key, 0], [second.key, 0]]);
    const call = (key: string, method: string, path: string, body?: unknown) => {
      made.set(key, made.get(key)! + 1);
      return http(method, path, { key, body });
    };
    try {
      const s = (await call(acc.key, 'POST', '/sessions/create', {})).json;
      for (let i = 0; i < 3; i++) await call(acc.key, 'GET', '/sessions');
      expect((await call(acc.key, 'GET', '/sessions/ses_doesnotexist')).status).toBe(404);
      const busy = (await call(acc.key, 'POST', '/execute', { sessionId: s.sessionId, code: 'let x = 0; for (let i = 0; i < 5e7; i++) x += i; console.log(x > 0)' })).json;
      const quick = (await call(second.key, 'POST', '/execute', { sessionId: s.sessionId, command: 'true' })).json;
      expect(busy.stdout).toBe('true\n');
      await sleep(1500);
      const lifetimeMs = Date.now() - Date.parse(s.createdAt);
      expect((await call(acc.key, 'DELETE', `/sessions/${s.sessionId}`)).status).toBe(200);
      await call(second.key, 'GET', '/sessions');
      const usage = await call(acc.key, 'GET', '/usage');

      expect(usage.status).toBe(200);
      expect(usage.json).toMatchObject({ account: acc.name, plan: 'free', limits: { requestsPerMinute: 100, maxSessions: 10, maxTtl: 86_400 } });
      const byKey = new Map<string, Day[]>(usage.json.keys.map((k: { id: string; days: Day[] }) => [k.id, k.days]));
      const k1 = totals(byKey.get(acc.keyId)!);
      const k2 = totals(byKey.get(second.keyId)!);
      expect(k1.requests).toBe(made.get(acc.key));
      expect(k2.requests).toBe(made.get(second.key));
      expect([k1.executions, k2.executions]).toEqual([1, 1]);
      expect(k1.cpuMs).toBe(busy.cpuTime);
      expect(busy.cpuTime).toBeGreaterThan(0);
      expect(k2.cpuMs).toBe(quick.cpuTime);
      expect(k1.sessionSeconds).toBeGreaterThanOrEqual(Math.floor(lifetimeMs / 1000));
      expect(k1.sessionSeconds).toBeLessThanOrEqual(Math.ceil(lifetimeMs / 1000) + 1);
      expect(k2.sessionSeconds).toBe(0);
      expect(totals(usage.json.days)).toEqual({
        requests: k1.requests + k2.requests, executions: 2, cpuMs: busy.cpuTime + quick.cpuTime, sessionSeconds: k1.sessionSeconds,
      });

      const cli = await adminCli(['usage', '--account', acc.name, '--json']);
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual(usage.json);
      expect(cli.stdout).not.toContain(acc.key);
    } finally {
      await deleteSessionsOf(acc.key);
    }
  });

  it('prints a readable report from the CLI and refuses an unknown account', async () => {
    const acc = await newAccount('paid');
    await http('GET', '/sessions', { key: acc.key });
    const text = await adminCli(['usage', '--account', acc.name]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`account ${acc.name} (paid): 1000 requests/min/key, 100 sessions`);
    expect(text.stdout).toMatch(/\d{4}-\d{2}-\d{2}\t1 requests/);
    const unknown = await adminCli(['usage', '--account', 'no-such-account']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no account');
  });

  it('ends a lifetime once: expired sessions at their expiresAt, vanished ones at the sweep, split over UTC days', async () => {
    const redis = createRedis(inject('redisUrl'));
    const keys = new Keys(`btusage-${randomBytes(4).toString('hex')}`);
    const usage = new UsageStore(redis, keys);
    try {
      const midnight = Date.parse('2026-03-02T00:00:00Z');
      const now = midnight + 3_600_000;
      usage.sessionOpened('key_a', 'ses_expired', midnight - 1_800_000, midnight + 600_000);
      usage.sessionOpened('key_a', 'ses_vanished', midnight, now + 86_400_000);
      usage.sessionOpened('key_a', 'ses_live', midnight, now + 86_400_000);
      await redis.hset(keys.session('ses_live'), 'sessionId', 'ses_live');
      expect(await usage.settle(now, false)).toBe(1);
      expect(await usage.settle(now)).toBe(1);
      expect(await usage.settle(now)).toBe(0);
      await usage.sessionClosed('ses_expired', now);
      const [days] = await usage.read(['key_a'], ['2026-03-01', '2026-03-02']);
      expect(days!.map((d) => d.sessionSeconds)).toEqual([1800, 600 + 3600]);
      await usage.sessionClosed('ses_live', now);
      expect((await usage.read(['key_a'], ['2026-03-02']))[0]![0]!.sessionSeconds).toBe(600 + 3600 + 3600);
    } finally {
      const all = await redis.keys(`${keys.prefix}:*`);
      if (all.length) await redis.del(...all);
      redis.disconnect();
    }
  });
});
