import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { signAdminToken } from '../core/admin-token.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';
import { startEgressFixtures, type EgressFixtures } from './support/egress-fixtures.ts';
import { TableResolver } from './support/egress-harness.ts';
import { adminCli, http } from './support/harness.ts';
import { readmeVerifier, RecordingDialer, startWebhookReceiver, type Received, type WebhookReceiver } from './support/webhook-fixtures.ts';

const ADMIN_SECRET = randomBytes(24).toString('hex');
/** Names the address policy sees: the resolver answers from this table and nothing else. */
const dns: Record<string, string[]> = {
  'private.test': ['192.168.1.10'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.0.0.3'],
  'public.test': ['93.184.216.34'],
};
const resolver = new TableResolver(dns);
const dialer = new RecordingDialer();
let receiver: WebhookReceiver;
/** An HTTPS server on 127.0.0.1 whose self-signed certificate names `secure.test` (its `/echo` answers 200). */
let tls: EgressFixtures;
let env: Record<string, string | undefined> = {};
let base = '';
let stop: () => Promise<void> = async () => {};
let verify: Awaited<ReturnType<typeof readmeVerifier>>;

/**
 * A runner and an API of this file's own, whose webhook path resolves names from `dns` only and
 * dials through the recording dialer (loopback only); `hooks.test` is the receiver on
 * 127.0.0.1 (WEBHOOK_INTERNAL_HOSTS). Retries every 300 ms, doubling, 4 attempts.
 */
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  tls = await startEgressFixtures(['secure.test']);
  verify = await readmeVerifier();
  const run = randomBytes(4).toString('hex');
  env = {
    ...process.env, REDIS_PREFIX: `btwh-${run}`, NODE_ID: `wh-${run}`, PORT: '0', LOG_LEVEL: 'warn', WARM_POOL_SIZE: '1',
    WEBHOOK_INTERNAL_HOSTS: [
      `hooks.test=127.0.0.1:${receiver.port}`, `secure.test=127.0.0.1:${tls.https.port}`, `wrongname.test=127.0.0.1:${tls.https.port}`,
    ].join(','),
    WEBHOOK_BACKOFF_BASE_MS: '300', WEBHOOK_MAX_ATTEMPTS: '4',
    EGRESS_RESOLVER: 'static', EGRESS_TEST_GUARD: 'true', ADMIN_JWT_SECRET: ADMIN_SECRET,
  };
  const runner = await startRunner(env, { webhookNet: { resolver, dialer, ca: tls.https.pem } });
  const api = await startApi(env, { webhookResolver: resolver });
  base = api.url;
  stop = async () => { await api.stop(); await runner.stop(); await receiver.stop(); await tls.stop(); };
});
afterAll(() => stop());

/** A fresh account of this service, its key and an SDK client. */
async function account() {
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
}

const call = (method: string, path: string, key: string, body?: unknown) => http(method, path, { key, body, base });

async function register(key: string, url: string, events: string[], secret?: string) {
  const res = await call('POST', '/webhooks', key, { url, events, ...(secret ? { secret } : {}) });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json as { id: string; secret: string; url: string; events: string[] };
}

async function deliveries(key: string, id: string) {
  const res = await call('GET', `/webhooks/${id}/deliveries`, key);
  expect(res.status).toBe(200);
  return res.json.deliveries as Array<{ attempt: number; ok: boolean; statusCode: number | null; error: string | null; nextAttemptAt: string | null; eventId: string; event: string }>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const eventOf = (r: Received) => JSON.parse(r.body) as { id: string; type: string; createdAt: string; data: Record<string, unknown> };

describe('webhooks', () => {
  it('deliver session.created and execution.finished, signed, verifiable with the README recipe', async () => {
    const a = await account();
    const hook = await register(a.key, 'http://hooks.test/a', ['session.created', 'execution.finished']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const onDelete = await register(a.key, 'http://hooks.test/a-deleted', ['session.deleted'], 'my-own-secret-0123456789');
    const listed = await call('GET', '/webhooks', a.key);
    expect(listed.json.webhooks).toEqual([
      { id: hook.id, url: 'http://hooks.test/a', events: ['session.created', 'execution.finished'], createdAt: expect.any(String) },
      { id: onDelete.id, url: 'http://hooks.test/a-deleted', events: ['session.deleted'], createdAt: expect.any(String) },
    ]);
    expect(listed.text).not.toContain(hook.secret);

    const session = await a.client.sessions.create();
    const result = await a.client.execute({ sessionId: session.id, code: 'console.log(6*7)' });
    expect(result.stdout).toBe('42\n');
    const got = await receiver.waitFor('two deliveries', () => receiver.at('/a').length >= 2);
    const mine = got.filter((r) => r.path === '/a');
    expect(mine.map((r) => eventOf(r).type).sort()).toEqual(['execution.finished', 'session.created']);
    for (const r of mine) {
      const header = r.headers['buntime-signature'];
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verify(hook.secret, header, r.body)).toBe(true);
      expect(verify(onDelete.secret, header, r.body)).toBe(false);
      expect(verify(hook.secret, header, r.body.replace('"data"', '"data" '))).toBe(false);
      expect(r.headers['buntime-event-id']).toBe(eventOf(r).id);
      expect(r.headers['buntime-event']).toBe(eventOf(r).type);
      expect(r.headers['content-type']).toBe('application/json');
      expect(eventOf(r).id).toMatch(/^evt_[0-9a-f]{24}$/);
    }
    const created = eventOf(mine.find((r) => eventOf(r).type === 'session.created')!);
    expect(created.data).toMatchObject({ sessionId: session.id, nodeId: env.NODE_ID });
    const finished = eventOf(mine.find((r) => eventOf(r).type === 'execution.finished')!);
    expect(finished.data).toMatchObject({
      sessionId: session.id, executionId: result.executionId, status: 'ok', exitCode: 0, signal: null, timedOut: false,
      executionTime: result.executionTime, cpuTime: result.cpuTime,
    });
    expect(Date.parse(finished.data.finishedAt as string)).toBeGreaterThanOrEqual(Date.parse(finished.data.startedAt as string));
    expect(Object.keys(finished.data).sort()).toEqual([
      'cpuTime', 'executionId', 'executionTime', 'exitCode', 'finishedAt', 'memoryUsed', 'sessionId', 'signal', 'startedAt', 'status', 'timedOut',
    ]);
    expect(receiver.at('/a-deleted')).toEqual([]);

    await a.client.sessions.delete(session.id);
    const [deleted] = await receiver.waitFor('session.deleted', () => receiver.at('/a-deleted').length >= 1).then(() => receiver.at('/a-deleted'));
    expect(eventOf(deleted!)).toMatchObject({ type: 'session.deleted', data: { sessionId: session.id } });
    expect(verify('my-own-secret-0123456789', deleted!.headers['buntime-signature'], deleted!.body)).toBe(true);
    const log = await deliveries(a.key, hook.id);
    expect(log.map((d) => [d.ok, d.statusCode, d.attempt, d.nextAttemptAt])).toEqual([[true, 204, 1, null], [true, 204, 1, null]]);
  });

  it('retry a receiver that answers 500 twice: the third attempt gets through; redirects are never followed', async () => {
    const b = await account();
    const flaky = await register(b.key, 'http://hooks.test/flaky/b', ['session.created'], 'flaky-secret-0123456789');
    const redirect = await register(b.key, 'http://hooks.test/redirect', ['session.created']);
    const session = await b.client.sessions.create();
    try {
      await receiver.waitFor('three attempts', () => receiver.at('/flaky/b').length >= 3);
      const attempts = receiver.at('/flaky/b');
      expect(attempts.map((r) => r.status)).toEqual([500, 500, 204]);
      expect(new Set(attempts.map((r) => eventOf(r).id)).size).toBe(1);
      for (const r of attempts) expect(verify('flaky-secret-0123456789', r.headers['buntime-signature'], r.body)).toBe(true);
      const log = await until('three logged attempts', async () => {
        const l = await deliveries(b.key, flaky.id);
        return l.length >= 3 ? l : undefined;
      });
      expect(log.map((d) => [d.attempt, d.ok, d.statusCode, d.error])).toEqual([
        [3, true, 204, null], [2, false, 500, 'http_500'], [1, false, 500, 'http_500'],
      ]);
      expect(log[1]!.nextAttemptAt).not.toBeNull();
      expect(log[0]!.nextAttemptAt).toBeNull();

      // 4 attempts of 302, none followed to /ok.
      const redirects = await until('four redirect attempts', async () => {
        const l = await deliveries(b.key, redirect.id);
        return l.length >= 4 ? l : undefined;
      });
      expect(redirects.map((d) => [d.attempt, d.statusCode, d.error])).toEqual([4, 3, 2, 1].map((n) => [n, 302, 'http_302 (redirects are not followed)']));
      expect(redirects[0]!.nextAttemptAt).toBeNull();
      expect(receiver.at('/redirect')).toHaveLength(4);
      expect(receiver.at('/ok')).toEqual([]);
    } finally {
      await b.client.sessions.delete(session.id);
    }
  });

  it('refuse a private target at registration (400) and at delivery, dialling nothing but loopback', async () => {
    const d = await account();
    const refused = {
      'https://10.0.0.1/hook': 'address_refused',
      'https://[::ffff:10.0.0.1]/hook': 'address_refused',
      'https://169.254.169.254/latest/meta-data': 'address_refused',
      'https://private.test/hook': 'address_refused',
      'https://metadata.test/hook': 'address_refused',
      'https://mixed.test/hook': 'address_refused',
      'http://public.test/hook': 'scheme_refused',
      'https://nxdomain.test/hook': 'dns_not_found',
      'ftp://public.test/': 'scheme_refused',
    };
    for (const [url, reason] of Object.entries(refused)) {
      const res = await call('POST', '/webhooks', d.key, { url, events: ['session.created'] });
      expect([res.status, res.json?.error?.code, res.json?.error?.details?.field, res.json?.error?.details?.reason], url)
        .toEqual([400, 'invalid_request', 'url', reason]);
    }
    expect((await call('GET', '/webhooks', d.key)).json.webhooks).toEqual([]);

    // Public when registered, private when delivered (rebinding): refused, never dialled, not retried.
    dns['rebind.test'] = ['93.184.216.34'];
    const rebind = await register(d.key, 'https://rebind.test/hook', ['session.created']);
    const exact = await register(d.key, 'https://public.test/hook', ['session.created']);
    dns['rebind.test'] = ['10.0.0.7'];
    const session = await d.client.sessions.create();
    try {
      const [first] = await until('the refused attempt', async () => {
        const l = await deliveries(d.key, rebind.id);
        return l.length > 0 ? l : undefined;
      });
      expect(first).toMatchObject({ attempt: 1, ok: false, statusCode: null, nextAttemptAt: null, event: 'session.created' });
      expect(first!.error).toMatch(/^address_refused: rebind\.test resolves to 10\.0\.0\.7/);
      // A public target is dialled at exactly the address checked (the test dialer refuses it before any socket).
      const [guarded] = await until('the public attempt', async () => {
        const l = await deliveries(d.key, exact.id);
        return l.length > 0 ? l : undefined;
      });
      expect(guarded!.error).toMatch(/^connect_guard: /);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await deliveries(d.key, rebind.id)).toHaveLength(1);
      expect(await deliveries(d.key, exact.id)).toHaveLength(1);
      expect(dialer.dialled).not.toContain('10.0.0.7');
      expect(dialer.dialled.filter((a) => a !== '127.0.0.1')).toEqual(['93.184.216.34']);
    } finally {
      await d.client.sessions.delete(session.id);
    }
  });

  it('go over TLS with the certificate checked against the URL\'s name', async () => {
    const c = await account();
    const secure = await register(c.key, 'https://secure.test/echo', ['session.created']);
    const wrong = await register(c.key, 'https://wrongname.test/echo', ['session.created']);
    const session = await c.client.sessions.create();
    try {
      const [ok] = await until('the TLS delivery', async () => {
        const l = await deliveries(c.key, secure.id);
        return l.length > 0 ? l : undefined;
      });
      expect(ok).toMatchObject({ ok: true, statusCode: 200, attempt: 1 });
      expect(tls.https.hits.get('/echo')).toBeGreaterThanOrEqual(1);
      const [mismatch] = await until('the refused certificate', async () => {
        const l = await deliveries(c.key, wrong.id);
        return l.length > 0 ? l : undefined;
      });
      expect(mismatch!.ok).toBe(false);
      expect(mismatch!.error).toMatch(/^tls: .*wrongname\.test/);
      expect(mismatch!.nextAttemptAt).not.toBeNull();
    } finally {
      await c.client.sessions.delete(session.id);
    }
  });

  it('belong to their account; session tokens cannot reach them; bodies are validated', async () => {
    const e = await account();
    const f = await account();
    const hook = await register(e.key, 'http://hooks.test/e', ['session.deleted']);
    expect((await call('GET', `/webhooks/${hook.id}/deliveries`, f.key)).status).toBe(404);
    expect((await call('DELETE', `/webhooks/${hook.id}`, f.key)).status).toBe(404);
    expect((await call('GET', '/webhooks', f.key)).json.webhooks).toEqual([]);
    const session = await e.client.sessions.create();
    try {
      const token = (await call('POST', `/sessions/${session.id}/token`, e.key, {})).json.token as string;
      expect((await http('GET', '/webhooks', { base, headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    } finally {
      await e.client.sessions.delete(session.id);
    }
    for (const body of [
      { url: 'http://hooks.test/x', events: [] },
      { url: 'http://hooks.test/x', events: ['session.exploded'] },
      { url: 'http://hooks.test/x', events: ['session.created'], secret: 'short' },
      { url: 'http://hooks.test/x', events: ['session.created'], extra: 1 },
      { events: ['session.created'] },
    ]) {
      expect((await call('POST', '/webhooks', e.key, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await call('DELETE', `/webhooks/${hook.id}`, e.key)).toMatchObject({ status: 200, json: { deleted: true, id: hook.id } });
    expect((await call('GET', `/webhooks/${hook.id}/deliveries`, e.key)).status).toBe(404);
  });

  it('are managed through the admin API and the CLI with the same checks', async () => {
    const g = await account();
    const admin = { authorization: `Bearer ${signAdminToken(ADMIN_SECRET, 300).token}` };
    const created = await http('POST', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin, body: { url: 'http://hooks.test/g', events: ['session.created'] } });
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    expect((await http('POST', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin, body: { url: 'https://private.test/', events: ['session.created'] } })).status).toBe(400);
    expect((await http('POST', '/admin/accounts/no-such-account/webhooks', { base, headers: admin, body: { url: 'http://hooks.test/g', events: ['session.created'] } })).status).toBe(404);
    expect((await http('GET', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin })).json.webhooks).toHaveLength(1);
    expect((await http('GET', `/admin/webhooks/${created.json.id}/deliveries`, { base, headers: admin })).json).toEqual({ deliveries: [] });
    expect((await http('GET', `/admin/accounts/${g.name}/webhooks`, { base })).status).toBe(401);

    const cliEnv = { REDIS_PREFIX: env.REDIS_PREFIX!, EGRESS_RESOLVER: 'static', WEBHOOK_INTERNAL_HOSTS: env.WEBHOOK_INTERNAL_HOSTS! };
    const made = await adminCli(['webhooks', 'create', '--account', g.name, '--url', 'http://hooks.test/cli', '--events', 'session.created,session.deleted', '--json'], cliEnv);
    expect(made.code, made.stderr).toBe(0);
    const cliHook = JSON.parse(made.stdout) as { id: string; secret: string; events: string[] };
    expect(cliHook.events).toEqual(['session.created', 'session.deleted']);
    const refusedCli = await adminCli(['webhooks', 'create', '--account', g.name, '--url', 'https://10.9.9.9/', '--events', 'session.created'], cliEnv);
    expect(refusedCli.code).toBe(2);
    expect(refusedCli.stderr).toMatch(/10\.9\.9\.9.*private address/);
    const listed = await adminCli(['webhooks', 'list', '--account', g.name], cliEnv);
    expect(listed.stdout).toContain(cliHook.id);
    expect(listed.stdout).not.toContain(cliHook.secret);
    expect((await adminCli(['webhooks', 'deliveries', cliHook.id, '--json'], cliEnv)).stdout.trim()).toBe('[]');
    expect((await adminCli(['webhooks', 'delete', cliHook.id], cliEnv)).stdout).toContain(`webhook ${cliHook.id} deleted`);
    expect((await http('DELETE', `/admin/webhooks/${created.json.id}`, { base, headers: admin })).json).toEqual({ deleted: true, id: created.json.id });
    expect((await http('GET', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin })).json.webhooks).toEqual([]);
  });
});
