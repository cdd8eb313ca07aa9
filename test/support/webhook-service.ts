import { randomBytes } from 'node:crypto';
import type { Buntime } from '@buntime/sdk';
import { expect, inject } from 'vitest';
import { startApi } from '../../api/main.ts';
import { AccountStore } from '../../core/accounts.ts';
import type { NameResolver } from '../../core/net/resolver.ts';
import { createRedis, Keys } from '../../core/redis.ts';
import type { Dialer } from '../../runner/egress/dialer.ts';
import { startRunner } from '../../runner/main.ts';
import { http } from './harness.ts';

/** A delivery attempt as `GET /webhooks/{id}/deliveries` lists it. */
export interface Attempt {
  attempt: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: string | null;
  eventId: string;
  event: string;
}

/**
 * A runner and an API of a test file's own for webhook tests: `internalHosts` are the
 * WEBHOOK_INTERNAL_HOSTS entries (receivers on 127.0.0.1), names resolve through `resolver` only
 * (default: EGRESS_RESOLVER=static, no query at all), the delivery path dials through `dialer`.
 * Retries every 300 ms, doubling, 4 attempts in all.
 */
export async function startWebhookService(o: {
  internalHosts: string[]; dialer: Dialer; resolver?: NameResolver; ca?: string; env?: Record<string, string>;
}) {
  const run = randomBytes(4).toString('hex');
  const env: Record<string, string | undefined> = {
    ...process.env, REDIS_PREFIX: `btwh-${run}`, NODE_ID: `wh-${run}`, PORT: '0', LOG_LEVEL: 'warn', WARM_POOL_SIZE: '1',
    WEBHOOK_INTERNAL_HOSTS: o.internalHosts.join(','), WEBHOOK_BACKOFF_BASE_MS: '300', WEBHOOK_MAX_ATTEMPTS: '4',
    EGRESS_RESOLVER: 'static', EGRESS_TEST_GUARD: 'true', ...o.env,
  };
  const runner = await startRunner(env, { webhookNet: { resolver: o.resolver, dialer: o.dialer, ca: o.ca } });
  const api = await startApi(env, { webhookResolver: o.resolver });
  const base = api.url;
  const call = (method: string, path: string, key: string, body?: unknown) => http(method, path, { key, body, base });
  return {
    env, base, call,
    /** A fresh account of this service, its key and an SDK client. */
    account: async () => {
      const redis = createRedis(inject('redisUrl'));
      try {
        const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX!));
        const name = `wh-${randomBytes(4).toString('hex')}`;
        await accounts.createAccount(name, 'free');
        const { key } = await accounts.createKey(name);
        const { Buntime } = await import('@buntime/sdk');
        return { name, key, client: new Buntime({ apiKey: key, baseUrl: base, maxRetries: 0 }) as Buntime };
      } finally {
        redis.disconnect();
      }
    },
    /** Registers a webhook through the API; it must succeed. */
    register: async (key: string, url: string, events: string[], secret?: string) => {
      const res = await call('POST', '/webhooks', key, { url, events, ...(secret ? { secret } : {}) });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      return res.json as { id: string; secret: string; url: string; events: string[] };
    },
    deliveries: async (key: string, id: string): Promise<Attempt[]> => {
      const res = await call('GET', `/webhooks/${id}/deliveries`, key);
      expect(res.status).toBe(200);
      return res.json.deliveries as Attempt[];
    },
    stop: async () => { await api.stop(); await runner.stop(); },
  };
}

export type WebhookService = Awaited<ReturnType<typeof startWebhookService>>;

/** Polls `fn` until it returns something, failing after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Polls a webhook's attempt log until it has at least `n` entries. */
export function attemptsOf(svc: WebhookService, key: string, id: string, n = 1): Promise<Attempt[]> {
  return until(`${n} attempts of ${id}`, async () => {
    const l = await svc.deliveries(key, id);
    return l.length >= n ? l : undefined;
  });
}
