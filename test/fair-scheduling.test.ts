import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { AccountStore } from '../core/accounts.ts';
import { ExecSlots } from '../core/exec-slots.ts';
import { createRedis } from '../core/redis.ts';
import { ownService } from './support/harness.ts';

/**
 * Fair scheduling on a service of its own: one account keeping 64 long executions in flight
 * over 10 sessions (far past its plan's 4 per session / 8 per account) holds only its own
 * slots; the rest wait in its own line, and another account's work goes straight through.
 */
let service: Awaited<ReturnType<typeof ownService>>;
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');

/** An account on `plan` with `keys` API keys (each key has its own rate budget), as SDK clients. */
async function account(plan: 'free' | 'paid', keys: number): Promise<{ name: string; clients: Buntime[] }> {
  const store = new AccountStore(redis, service.keys);
  const name = `fair-${randomBytes(3).toString('hex')}`;
  await store.createAccount(name, plan);
  const { Buntime } = await import('@buntime/sdk');
  const clients: Buntime[] = [];
  for (let i = 0; i < keys; i++) {
    const { key } = await store.createKey(name, `k${i}`);
    clients.push(new Buntime({ apiKey: key, baseUrl: service.api.url, maxRetries: 0 }));
  }
  return { name, clients };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  service = await ownService('fair', { WARM_POOL_SIZE: '4' });
});
afterAll(async () => {
  await service?.stop();
  redis.disconnect();
});

describe('fair scheduling', () => {
  it('keeps another account responsive while one keeps 64 long executions in flight', async () => {
    const slots = new ExecSlots(redis, service.keys);
    const a = await account('free', 6);
    const b = await account('free', 1);
    const aSessions: string[] = [];
    for (let i = 0; i < 10; i++) aSessions.push((await a.clients[0]!.sessions.create()).id);
    const bSession = (await b.clients[0]!.sessions.create()).id;
    await b.clients[0]!.execute({ sessionId: bSession, command: 'echo warm' });

    let stop = false;
    let overLimit = '';
    const outcomes = { ok: 0, timeout408: 0, other: 0 };
    // 64 callers, each keeping one `sleep 20` in flight: a 408 for one that waited too long is
    // answered by sending it again, as an impatient client would.
    const load = Array.from({ length: 64 }, async (_, i) => {
      const client = a.clients[i % a.clients.length]!;
      while (!stop) {
        try {
          await client.execute({ sessionId: aSessions[i % 10]!, command: 'sleep 20', timeout: 25 });
          outcomes.ok++;
        } catch (err) {
          if ((err as { status?: number }).status === 408) outcomes.timeout408++;
          else outcomes.other++;
          if (stop) return;
        }
      }
    });
    const watch = (async () => {
      while (!stop) {
        const all = await slots.counts(a.name);
        if (all.running > 8) overLimit = `account ran ${all.running}`;
        for (const s of aSessions) {
          const one = await slots.counts(a.name, s);
          if (one.session > 4) overLimit = `session ${s} ran ${one.session}`;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await until("A's load", async () => {
        const c = await slots.counts(a.name);
        return c.running === 8 && c.waiting >= 50;
      }, 20_000);

      // B measured over 12 s, through A's churn (A's waiters reach their 408 after ~9 s and
      // are sent again, to the back of A's line).
      const rounds = [];
      for (let round = 0; round < 6; round++) {
        const queued = await redis.zrange(service.keys.slots(a.name, 'line'), 0, -1);
        const exec = await timed(() => b.clients[0]!.execute({ sessionId: bSession, command: 'echo B' }));
        const running = new Set(await redis.zrange(service.keys.slots(a.name, 'run'), 0, -1));
        const list = await timed(() => b.clients[0]!.files.list(bSession));
        const get = await timed(() => b.clients[0]!.sessions.get(bSession));
        expect(exec.value.stdout).toBe('B\n');
        expect(get.value.sessionId).toBe(bSession);
        rounds.push({ exec: exec.ms, list: list.ms, get: get.ms, aQueued: queued.length, aStarted: queued.filter((id) => running.has(id)) });
        await new Promise((r) => setTimeout(r, 2_000));
      }
      for (const r of rounds) {
        // B's execution did not queue: its whole round trip is far below A's work it passed,
        // and none of A's executions queued before it started in the meantime.
        expect(r.exec).toBeLessThan(1_000);
        expect(r.aStarted).toEqual([]);
        expect(r.list).toBeLessThan(5_000);
        expect(r.get).toBeLessThan(5_000);
      }
      expect(rounds.filter((r) => r.aQueued >= 40).length).toBeGreaterThanOrEqual(3);
      expect(outcomes.timeout408).toBeGreaterThan(0);
      expect(overLimit).toBe('');
    } finally {
      stop = true;
      await watch;
      // Deleting A's sessions ends its running executions; its waiters then fail fast.
      await Promise.all(aSessions.map((id) => a.clients[0]!.sessions.delete(id).catch(() => {})));
      await b.clients[0]!.sessions.delete(bSession).catch(() => {});
      await Promise.all(load);
    }
    expect(overLimit).toBe('');
  }, 120_000);
});
