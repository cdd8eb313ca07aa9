import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import { JobRpcClient } from '../core/job-rpc.ts';
import { RedisClock } from '../core/redis-clock.ts';
import { nodeJobs, nodeQueueName } from '../core/queues.ts';
import { createRedis, createRequestRedis } from '../core/redis.ts';
import { http, ownService } from './support/harness.ts';
import { PrivateRedis } from './support/private-redis.ts';

/**
 * A Redis that stops answering (SIGSTOP: connections stay open, nothing comes back) must not
 * hang the API: every request answers 503 `service_unavailable` with `Retry-After` within a
 * bound, and the service is back by itself once Redis is (SIGCONT).
 */
const STALL_MS = 20_000;
const BOUND_MS = 3_000;

let redis: PrivateRedis;
let service: Awaited<ReturnType<typeof ownService>> | undefined;
let key: string;
let sessionId: string;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  service = await ownService('stall', { REDIS_URL: redis.url, WARM_POOL_SIZE: '0' });
  const conn = createRedis(redis.url);
  try {
    const accounts = new AccountStore(conn, service.keys);
    const name = `stall-${randomBytes(3).toString('hex')}`;
    await accounts.createAccount(name, 'paid');
    key = (await accounts.createKey(name)).key;
  } finally {
    conn.disconnect();
  }
  const created = await call('POST', '/sessions/create', {});
  expect(created.status).toBe(200);
  sessionId = created.json.sessionId;
});
afterAll(async () => {
  redis?.cont();
  if (sessionId) await call('DELETE', `/sessions/${sessionId}`).catch(() => {});
  await service?.stop();
  await redis?.close();
});

function call(method: string, path: string, body?: unknown) {
  return http(method, path, { key, body, base: service!.api.url });
}

/** Every kind of request, each timed: status, Retry-After and how long it took, ms. */
async function round() {
  const requests: Array<[string, () => ReturnType<typeof call>]> = [
    ['GET /sessions', () => call('GET', '/sessions')],
    ['POST /execute', () => call('POST', '/execute', { sessionId, command: 'echo hi' })],
    ['GET /sessions/{id}', () => call('GET', `/sessions/${sessionId}`)],
    ['GET /health', () => http('GET', '/health', { base: service!.api.url })],
  ];
  return Promise.all(requests.map(async ([name, send]) => {
    const started = Date.now();
    // A request that hangs is reported as such rather than holding the test until the stall ends.
    const hung = new Promise<undefined>((r) => setTimeout(r, 2 * BOUND_MS, undefined));
    const res = await Promise.race([send(), hung]);
    const ms = Date.now() - started;
    if (!res) return { name, status: 'hung', retryAfter: null, code: undefined, ms };
    return { name, status: res.status, retryAfter: res.headers.get('retry-after'), code: res.json?.error?.code, ms };
  }));
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Redis stalls', () => {
  it('answer 503 with Retry-After within the bound while Redis is stopped, and recover after', async () => {
    expect((await call('POST', '/execute', { sessionId, command: 'echo before' })).json.stdout).toBe('before\n');
    redis.stop();
    const stoppedAt = Date.now();
    try {
      // At the start of the stall, in its middle (commands of the first round still pending),
      // and towards its end.
      for (const at of [0, STALL_MS / 2, STALL_MS - 5_000]) {
        await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + at - Date.now())));
        for (const r of await round()) {
          expect(r, r.name).toMatchObject({ status: 503 });
          expect(r.retryAfter, r.name).toMatch(/^\d+$/);
          expect(r.ms, r.name).toBeLessThan(BOUND_MS);
          if (r.name !== 'GET /health') expect(r.code, r.name).toBe('service_unavailable');
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + STALL_MS - Date.now())));
    } finally {
      redis.cont();
    }
    const back = await eventually(() => call('GET', `/sessions/${sessionId}`), (r) => r.status === 200, 5_000);
    expect(back.status).toBe(200);
    expect((await call('POST', '/execute', { sessionId, command: 'echo after' })).json.stdout).toBe('after\n');
    expect((await http('GET', '/health', { base: service!.api.url })).status).toBe(200);
  }, STALL_MS + 60_000);

  it('fails an enqueue within the bound, and the job never runs once Redis is back', async () => {
    const conn = createRequestRedis(redis.url);
    const subscriber = createRedis(redis.url);
    const bullPrefix = `stall-${randomBytes(3).toString('hex')}`;
    const clock = new RedisClock(conn);
    const rpc = new JobRpcClient({ redis: conn, subscriber, clock, bullPrefix, channelPrefix: `${bullPrefix}:replies` });
    const queue = nodeQueueName(`stall-${randomBytes(3).toString('hex')}`, 'control');
    const jobId = `job-${randomBytes(4).toString('hex')}`;
    try {
      await conn.connect();
      await rpc.start();
      // No node takes jobs from this queue: a call that reached Redis times out waiting.
      const first = await rpc.call(nodeJobs, queue, 'stat', { sessionId }, { deadlineMs: 300 }).catch((e: unknown) => e);
      expect((first as BuntimeError).code).toBe('execution_timeout');
      redis.stop();
      const started = Date.now();
      const err = await rpc.call(nodeJobs, queue, 'stat', { sessionId }, { deadlineMs: 60_000, jobId }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
      expect(err).toBeInstanceOf(BuntimeError);
      expect((err as BuntimeError).code).toBe('service_unavailable');
      redis.cont();
      // The add reached Redis after all, when it woke: the removal sent right behind it undoes it.
      const probeConn = createRedis(redis.url);
      const probe = new Queue(queue, { connection: probeConn, prefix: bullPrefix });
      try {
        await new Promise((r) => setTimeout(r, 1_000));
        expect(await probe.getJob(jobId)).toBeUndefined();
        // And the queue works again for the next call.
        const again = await rpc.call(nodeJobs, queue, 'stat', { sessionId }, { deadlineMs: 500 }).catch((e: unknown) => e);
        expect((again as BuntimeError).code).toBe('execution_timeout');
      } finally {
        await probe.close();
        probeConn.disconnect();
      }
    } finally {
      redis.cont();
      await rpc.stop();
      conn.disconnect();
      subscriber.disconnect();
    }
  });
});
