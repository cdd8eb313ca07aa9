import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { checkRedisDurability } from '../core/redis-durability.ts';
import { createRedis } from '../core/redis.ts';
import { ownService } from './support/harness.ts';
import { PrivateRedis } from './support/private-redis.ts';

/**
 * Redis is the system of record and runs with an append-only file (config/redis.conf): a
 * service whose Redis restarts, cleanly or by kill -9, keeps its accounts, keys, sessions and
 * usage. The session's container and files live on the node and outlive the restart as well.
 */
let redis: PrivateRedis;
let service: Awaited<ReturnType<typeof ownService>> | undefined;
let client: Buntime;
let sessionId: string;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  service = await ownService('durable', { REDIS_URL: redis.url, WARM_POOL_SIZE: '0' });
  client = await service.client('paid');
  sessionId = (await client.sessions.create()).id;
});
afterAll(async () => {
  await client?.sessions.delete(sessionId).catch(() => {});
  await service?.stop();
  await redis?.close();
});

let executions = 0;

type Day = { executions: number; requests: number };

/** Today's usage counters of the account (the SDK leaves the report untyped). */
async function today(): Promise<Day> {
  const report = (await client.usage()) as { days: Day[] };
  return report.days.at(-1)!;
}

/** Writes a file through the API and through an execution; resolves with today's usage then. */
async function writeAndRun(name: string): Promise<{ executions: number; requests: number }> {
  await client.files.write(sessionId, `${name}.txt`, `${name} content`);
  const r = await client.execute({ sessionId, command: `cat ${name}.txt > ${name}-copy.txt && echo ran` });
  expect(r.stdout).toBe('ran\n');
  executions += 1;
  // Usage is counted fire-and-forget after the answer: wait until the execution shows.
  for (;;) {
    const day = await today();
    if (day.executions >= executions) return { executions: day.executions, requests: day.requests };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first request after a restart may meet a connection that is still reconnecting. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function expectSurvived(name: string, before: { executions: number; requests: number }): Promise<void> {
  const day = await eventually(today);
  expect(day.executions).toBe(before.executions);
  expect(day.requests).toBeGreaterThan(before.requests);
  expect((await client.sessions.get(sessionId)).state).toMatch(/^(active|idle)$/);
  expect(await client.files.readText(sessionId, `${name}.txt`)).toBe(`${name} content`);
  const r = await eventually(() => client.execute({ sessionId, command: `cat ${name}-copy.txt` }));
  expect(r.stdout).toBe(`${name} content`);
}

describe('durable Redis', () => {
  it('runs with the project\'s settings', async () => {
    const conn = createRedis(redis.url);
    try {
      expect(await checkRedisDurability(conn)).toEqual([]);
    } finally {
      conn.disconnect();
    }
  });

  it('keeps accounts, keys, sessions, files and usage across a SHUTDOWN and restart', async () => {
    const before = await writeAndRun('clean');
    await redis.restart();
    await expectSurvived('clean', before);
  });

  it('keeps them across kill -9 of Redis two seconds after the writes', async () => {
    const before = await writeAndRun('crash');
    await new Promise((r) => setTimeout(r, 2_000));
    await redis.kill9();
    await redis.restart();
    await expectSurvived('crash', before);
  });

  it('reports a Redis that would lose data', async () => {
    const lax = await PrivateRedis.start(['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
    const conn = createRedis(lax.url);
    try {
      const problems = await checkRedisDurability(conn);
      expect(problems).toEqual([expect.stringMatching(/append-only file/), expect.stringMatching(/allkeys-lru evicts/)]);
    } finally {
      conn.disconnect();
      await lax.close();
    }
  });
});
