import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { AccountStore } from '../../core/accounts.ts';
import { createRedis, Keys } from '../../core/redis.ts';

export const apiUrl = () => inject('apiUrl');

/** A Redis connection and the key names of this test run. */
export function testRedis() {
  const redis = createRedis(inject('redisUrl'));
  return { redis, keys: new Keys(inject('redisPrefix')) };
}

/** Creates a fresh account on `plan` with one key; each test gets its own. */
export async function newAccount(plan: 'free' | 'paid' | 'enterprise' = 'free') {
  const { redis, keys } = testRedis();
  try {
    const store = new AccountStore(redis, keys);
    const name = `acct-${randomBytes(5).toString('hex')}`;
    await store.createAccount(name, plan);
    const { key, info } = await store.createKey(name, 'test');
    return { name, key, keyId: info.id };
  } finally {
    redis.disconnect();
  }
}

/** A raw HTTP call to the API, for tests of the wire format itself. */
export async function http(method: string, path: string, opts: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${apiUrl()}${path}`, { method, headers, body });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

/** An SDK client for a fresh account on `plan`, and a way to clean up its sessions. */
export async function newClient(plan: 'free' | 'paid' | 'enterprise' = 'free') {
  const { Buntime } = await import('@buntime/sdk');
  const account = await newAccount(plan);
  const client = new Buntime({ apiKey: account.key, baseUrl: apiUrl(), maxRetries: 0 });
  const cleanup = async () => {
    const { sessions } = await client.sessions.list({ limit: 1000 });
    await Promise.all(sessions.map((s) => client.sessions.delete(s.sessionId).catch(() => {})));
  };
  return { client, account, cleanup };
}
