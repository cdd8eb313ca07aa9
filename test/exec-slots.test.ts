import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecAdmission } from '../api/exec-admission.ts';
import { ExecSlots, WAITER_ALIVE_MS, type SlotClaim } from '../core/exec-slots.ts';
import { createLogger } from '../core/logger.ts';
import { Notifier } from '../core/notifier.ts';
import { RedisClock } from '../core/redis-clock.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { testRedis } from './support/harness.ts';

/**
 * Running-execution slots and the accounts' lines, against the real Redis: limits per session
 * and per account, FIFO per account, leases that lapse, waiters that give up in time.
 */
const { redis } = testRedis();
const keys = new Keys(`btslots-${randomBytes(4).toString('hex')}`);
const slots = new ExecSlots(redis, keys);
const clock = new RedisClock(redis);
const limits = { perSession: 2, perAccount: 3 };
let n = 0;

beforeAll(() => clock.start());
afterAll(async () => {
  clock.stop();
  const found = await redis.keys(`${keys.prefix}:*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

/** A claim of `account` in its session `session` (session ids are unique across accounts). */
function claim(account: string, session: string, o: { leaseMs?: number; startWithinMs?: number } = {}): SlotClaim {
  const now = clock.now();
  return {
    account, sessionId: `${account}-${session}`, executionId: `exec_${++n}`,
    latestStart: now + (o.startWithinMs ?? 60_000), leaseUntil: now + (o.leaseMs ?? 120_000),
  };
}

const account = () => `acct-${randomBytes(4).toString('hex')}`;

describe('execution slots', () => {
  it('grants up to the per-session and per-account limits, then queues', async () => {
    const a = account();
    const s1 = [claim(a, 'ses_1'), claim(a, 'ses_1'), claim(a, 'ses_1')];
    const states = [];
    for (const c of s1) states.push(await slots.enter(c, limits));
    expect(states).toEqual(['running', 'running', 'waiting']);
    expect(await slots.enter(claim(a, 'ses_2'), limits)).toBe('running');
    expect(await slots.enter(claim(a, 'ses_3'), limits)).toBe('waiting');
    expect(await slots.counts(a, `${a}-ses_1`)).toEqual({ running: 3, waiting: 2, session: 2 });
    // Another account is not affected at all.
    expect(await slots.enter(claim(account(), 'ses_9'), limits)).toBe('running');
  });

  it('hands freed slots to the oldest waiter whose session has room', async () => {
    const a = account();
    const held = [claim(a, 'ses_a'), claim(a, 'ses_a'), claim(a, 'ses_b')];
    for (const c of held) expect(await slots.enter(c, limits)).toBe('running');
    const w1 = claim(a, 'ses_a');
    const w2 = claim(a, 'ses_c');
    const w3 = claim(a, 'ses_d');
    for (const c of [w1, w2, w3]) expect(await slots.enter(c, limits)).toBe('waiting');
    // ses_b's slot frees: ses_a is still full, so w1 is passed over and w2 (next in line) runs.
    await slots.leave(a, `${a}-ses_b`, held[2]!.executionId, limits);
    expect(await slots.refresh(a, limits, [w1, w2, w3].map((c) => c.executionId))).toEqual(['waiting', 'running', 'waiting']);
    // One of ses_a's frees: w1, the oldest, now runs before w3.
    await slots.leave(a, `${a}-ses_a`, held[0]!.executionId, limits);
    expect(await slots.refresh(a, limits, [w1, w3].map((c) => c.executionId))).toEqual(['running', 'waiting']);
  });

  it('lets a lease lapse at its deadline, so a crashed holder leaks nothing', async () => {
    const a = account();
    for (let i = 0; i < 3; i++) expect(await slots.enter(claim(a, `ses_${i}`, { leaseMs: 400 }), limits)).toBe('running');
    const next = claim(a, 'ses_x');
    expect(await slots.enter(next, limits)).toBe('waiting');
    await new Promise((r) => setTimeout(r, 600));
    expect(await slots.refresh(a, limits, [next.executionId])).toEqual(['running']);
  });

  it('drops a waiter nobody renews, and one that can no longer start in time', async () => {
    const a = account();
    for (let i = 0; i < 3; i++) await slots.enter(claim(a, `ses_${i}`), limits);
    const late = claim(a, 'ses_y', { startWithinMs: 300 });
    const abandoned = claim(a, 'ses_z');
    expect(await slots.enter(late, limits)).toBe('waiting');
    expect(await slots.enter(abandoned, limits)).toBe('waiting');
    await new Promise((r) => setTimeout(r, 400));
    expect(await slots.refresh(a, limits, [late.executionId])).toEqual(['gone']);
    expect((await slots.counts(a)).waiting).toBe(1);
    await new Promise((r) => setTimeout(r, WAITER_ALIVE_MS + 300));
    expect((await slots.counts(a)).waiting).toBe(1);
    await slots.leave(a, `${a}-ses_0`, 'nothing', limits);
    expect((await slots.counts(a)).waiting).toBe(0);
    expect(await slots.enter(claim(a, 'ses_y', { startWithinMs: -1_000 }), limits)).toBe('gone');
  }, 15_000);
});

describe('admission', () => {
  const subscriber = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');
  const admission = new ExecAdmission({ slots, notifier: new Notifier(subscriber), clock, log: createLogger('silent') });
  afterAll(() => {
    admission.stop();
    subscriber.disconnect();
  });

  it('wakes a waiter as soon as a slot frees, in arrival order', async () => {
    const a = account();
    const one = { perSession: 1, perAccount: 1 };
    const first = await admission.admit(claim(a, 'ses_1'), one);
    const order: number[] = [];
    const waiting = [1, 2, 3].map((i) => admission.admit(claim(a, `ses_${i + 1}`), one).then(async (release) => {
      order.push(i);
      await release();
    }));
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual([]);
    const t0 = Date.now();
    await first();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    // Grants travel by pub/sub, not by the one-second renewal.
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('gives up at the last moment it could start: 408, and it never holds a slot', async () => {
    const a = account();
    const one = { perSession: 1, perAccount: 1 };
    const holder = await admission.admit(claim(a, 'ses_1'), one);
    const t0 = Date.now();
    await expect(admission.admit(claim(a, 'ses_2', { startWithinMs: 700 }), one))
      .rejects.toMatchObject({ code: 'execution_timeout', status: 408 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(await slots.counts(a)).toMatchObject({ running: 1, waiting: 0 });
    await holder();
    expect(await slots.counts(a)).toMatchObject({ running: 0, waiting: 0 });
  });
});
