import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { SESSION_EVENTS } from '../core/webhooks/events.ts';
import { startRunner } from '../runner/main.ts';
import { http } from './support/harness.ts';
import { RecordingDialer, startWebhookReceiver, type Received, type WebhookReceiver } from './support/webhook-fixtures.ts';

type Runner = Awaited<ReturnType<typeof startRunner>>;
type Api = Awaited<ReturnType<typeof startApi>>;

let receiver: WebhookReceiver;
let env: Record<string, string | undefined> = {};
let runner: Runner | undefined;
let api: Api;
let client: Buntime;
let key = '';
const dialer = new RecordingDialer();

/**
 * A service of this file's own whose sessions go idle after 1 s and to deep sleep after 3 s; one
 * account with a webhook for every session event, delivered to a receiver on 127.0.0.1.
 */
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  const run = randomBytes(4).toString('hex');
  env = {
    ...process.env, REDIS_PREFIX: `btwhe-${run}`, NODE_ID: `whe-${run}`, PORT: '0', LOG_LEVEL: 'warn', WARM_POOL_SIZE: '0',
    IDLE_AFTER: '1', SLEEP_AFTER: '3', WEBHOOK_INTERNAL_HOSTS: `hooks.test=127.0.0.1:${receiver.port}`,
    WEBHOOK_BACKOFF_BASE_MS: '300', WEBHOOK_MAX_ATTEMPTS: '4', EGRESS_RESOLVER: 'static', EGRESS_TEST_GUARD: 'true',
  };
  runner = await startRunner(env, { webhookNet: { dialer } });
  api = await startApi(env);
  const redis = createRedis(inject('redisUrl'));
  try {
    const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX!));
    await accounts.createAccount(`whe-${run}`, 'free');
    key = (await accounts.createKey(`whe-${run}`)).key;
  } finally {
    redis.disconnect();
  }
  const { Buntime } = await import('@buntime/sdk');
  client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
  const res = await http('POST', '/webhooks', { key, base: api.url, body: { url: 'http://hooks.test/events', events: [...SESSION_EVENTS] } });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await api?.stop();
  await runner?.stop();
  await receiver?.stop();
});

const events = (sessionId: string) => receiver.at('/events')
  .map((r: Received) => JSON.parse(r.body) as { type: string; data: { sessionId: string; from?: string } })
  .filter((e) => e.data.sessionId === sessionId);
const types = (sessionId: string) => events(sessionId).map((e) => e.type);

/** Waits until the session's events, in arrival order, are `expected`. */
async function expectEvents(sessionId: string, expected: string[], ms = 20_000): Promise<void> {
  await receiver.waitFor(`${expected.join(', ')} for ${sessionId}`, () => types(sessionId).length >= expected.length, ms);
  expect(types(sessionId)).toEqual(expected);
}

describe('lifecycle webhooks', () => {
  it('report created, idle, woke from idle, sleeping, woke from deep sleep and expired', async () => {
    const s = await client.sessions.create();
    await expectEvents(s.id, ['session.created', 'session.idle']);
    expect((await client.execute({ sessionId: s.id, command: 'echo kept > f.txt' })).exitCode).toBe(0);
    await expectEvents(s.id, ['session.created', 'session.idle', 'session.woke', 'session.idle', 'session.sleeping']);
    expect((await client.execute({ sessionId: s.id, command: 'cat f.txt' })).stdout).toBe('kept\n');
    await expectEvents(s.id, ['session.created', 'session.idle', 'session.woke', 'session.idle', 'session.sleeping', 'session.woke']);
    expect(events(s.id).filter((e) => e.type === 'session.woke').map((e) => e.data.from)).toEqual(['idle', 'deep-sleep']);

    // Its expiry made due now: the janitor's sweep (every second) ends it as expired, not deleted.
    const redis = createRedis(inject('redisUrl'));
    try {
      await redis.zadd(new Keys(env.REDIS_PREFIX!).nodeExpiries(env.NODE_ID!), Date.now(), s.id);
    } finally {
      redis.disconnect();
    }
    await receiver.waitFor('session.expired', () => types(s.id).includes('session.expired'));
    expect(types(s.id)).not.toContain('session.deleted');
  });

  it('report a session lost once when its node is gone, and its deletion by the API', async () => {
    const s = await client.sessions.create();
    await receiver.waitFor('session.created', () => types(s.id).includes('session.created'));
    await runner!.stop();
    runner = undefined;
    // Deliveries need a runner: another node takes them while the session's node is away.
    const other = await startRunner({ ...env, NODE_ID: `${env.NODE_ID}-b` }, { webhookNet: { dialer } });
    try {
      expect((await client.sessions.get(s.id)).state).toBe('lost');
      expect((await client.sessions.list()).sessions.map((x) => x.state)).toContain('lost');
      await receiver.waitFor('session.lost', () => types(s.id).includes('session.lost'));
      await client.sessions.delete(s.id);
      await receiver.waitFor('session.deleted', () => types(s.id).includes('session.deleted'));
      expect(types(s.id).filter((t) => t === 'session.lost')).toHaveLength(1);
      expect(events(s.id).find((e) => e.type === 'session.lost')!.data).toMatchObject({ nodeId: env.NODE_ID });
    } finally {
      // The lost node comes back and removes the container of the deleted session at start.
      runner = await startRunner(env, { webhookNet: { dialer } });
      await other.stop();
    }
    expect(dialer.dialled.every((a) => a === '127.0.0.1')).toBe(true);
  });
});
