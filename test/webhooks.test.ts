import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressFixtures, type EgressFixtures } from './support/egress-fixtures.ts';
import { TableResolver } from './support/egress-harness.ts';
import { readmeVerifier, RecordingDialer, startWebhookReceiver, type Received, type WebhookReceiver } from './support/webhook-fixtures.ts';
import { attemptsOf, startWebhookService, type WebhookService } from './support/webhook-service.ts';

/** Names the address policy sees: the resolver answers from this table and nothing else. */
const dns: Record<string, string[]> = {
  'private.test': ['192.168.1.10'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.0.0.3'],
  'public.test': ['93.184.216.34'],
};
const dialer = new RecordingDialer();
let receiver: WebhookReceiver;
/** An HTTPS server on 127.0.0.1 whose self-signed certificate names `secure.test` (its `/echo` answers 200). */
let tls: EgressFixtures;
let svc: WebhookService;
let verify: Awaited<ReturnType<typeof readmeVerifier>>;

/**
 * A service of this file's own whose webhook path resolves names from `dns` only and dials
 * through the recording dialer (loopback only): `hooks.test` is the receiver, `secure.test` (and
 * `wrongname.test`, not in its certificate) the HTTPS server, all on 127.0.0.1.
 */
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  tls = await startEgressFixtures(['secure.test']);
  verify = await readmeVerifier();
  svc = await startWebhookService({
    internalHosts: [`hooks.test=127.0.0.1:${receiver.port}`, `secure.test=127.0.0.1:${tls.https.port}`, `wrongname.test=127.0.0.1:${tls.https.port}`],
    resolver: new TableResolver(dns), dialer, ca: tls.https.pem,
  });
});
afterAll(async () => {
  await svc?.stop();
  await receiver?.stop();
  await tls?.stop();
});

const eventOf = (r: Received) => JSON.parse(r.body) as { id: string; type: string; createdAt: string; data: Record<string, unknown> };

describe('webhooks', () => {
  it('deliver session.created and execution.finished, signed, verifiable with the README recipe', async () => {
    const a = await svc.account();
    const hook = await svc.register(a.key, 'http://hooks.test/a', ['session.created', 'execution.finished']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const onDelete = await svc.register(a.key, 'http://hooks.test/a-deleted', ['session.deleted'], 'my-own-secret-0123456789');
    const listed = await svc.call('GET', '/webhooks', a.key);
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
    expect(created.data).toMatchObject({ sessionId: session.id, nodeId: svc.env.NODE_ID });
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
    await receiver.waitFor('session.deleted', () => receiver.at('/a-deleted').length >= 1);
    const [deleted] = receiver.at('/a-deleted');
    expect(eventOf(deleted!)).toMatchObject({ type: 'session.deleted', data: { sessionId: session.id } });
    expect(verify('my-own-secret-0123456789', deleted!.headers['buntime-signature'], deleted!.body)).toBe(true);
    const log = await svc.deliveries(a.key, hook.id);
    expect(log.map((d) => [d.ok, d.statusCode, d.attempt, d.nextAttemptAt])).toEqual([[true, 204, 1, null], [true, 204, 1, null]]);
  });

  it('retry a receiver that answers 500 twice: the third attempt gets through; redirects are never followed', async () => {
    const b = await svc.account();
    const flaky = await svc.register(b.key, 'http://hooks.test/flaky/b', ['session.created'], 'flaky-secret-0123456789');
    const redirect = await svc.register(b.key, 'http://hooks.test/redirect', ['session.created']);
    const session = await b.client.sessions.create();
    try {
      await receiver.waitFor('three attempts', () => receiver.at('/flaky/b').length >= 3);
      const attempts = receiver.at('/flaky/b');
      expect(attempts.map((r) => r.status)).toEqual([500, 500, 204]);
      expect(new Set(attempts.map((r) => eventOf(r).id)).size).toBe(1);
      for (const r of attempts) expect(verify('flaky-secret-0123456789', r.headers['buntime-signature'], r.body)).toBe(true);
      const log = await attemptsOf(svc, b.key, flaky.id, 3);
      expect(log.map((d) => [d.attempt, d.ok, d.statusCode, d.error])).toEqual([
        [3, true, 204, null], [2, false, 500, 'http_500'], [1, false, 500, 'http_500'],
      ]);
      expect(log[1]!.nextAttemptAt).not.toBeNull();
      expect(log[0]!.nextAttemptAt).toBeNull();

      // 4 attempts of 302, none followed to /ok.
      const redirects = await attemptsOf(svc, b.key, redirect.id, 4);
      expect(redirects.map((d) => [d.attempt, d.statusCode, d.error])).toEqual([4, 3, 2, 1].map((n) => [n, 302, 'http_302 (redirects are not followed)']));
      expect(redirects[0]!.nextAttemptAt).toBeNull();
      expect(receiver.at('/redirect')).toHaveLength(4);
      expect(receiver.at('/ok')).toEqual([]);
    } finally {
      await b.client.sessions.delete(session.id);
    }
  });

  it('refuse a private target at registration (400) and at delivery, dialling nothing but loopback', async () => {
    const d = await svc.account();
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
      const res = await svc.call('POST', '/webhooks', d.key, { url, events: ['session.created'] });
      expect([res.status, res.json?.error?.code, res.json?.error?.details?.field, res.json?.error?.details?.reason], url)
        .toEqual([400, 'invalid_request', 'url', reason]);
    }
    expect((await svc.call('GET', '/webhooks', d.key)).json.webhooks).toEqual([]);

    // Public when registered, private when delivered (rebinding): refused, never dialled, not retried.
    dns['rebind.test'] = ['93.184.216.34'];
    const rebind = await svc.register(d.key, 'https://rebind.test/hook', ['session.created']);
    const exact = await svc.register(d.key, 'https://public.test/hook', ['session.created']);
    dns['rebind.test'] = ['10.0.0.7'];
    const session = await d.client.sessions.create();
    try {
      const [first] = await attemptsOf(svc, d.key, rebind.id);
      expect(first).toMatchObject({ attempt: 1, ok: false, statusCode: null, nextAttemptAt: null, event: 'session.created' });
      expect(first!.error).toMatch(/^address_refused: rebind\.test resolves to 10\.0\.0\.7/);
      // A public target is dialled at exactly the address checked (the test dialer refuses it before any socket).
      const [guarded] = await attemptsOf(svc, d.key, exact.id);
      expect(guarded!.error).toMatch(/^connect_guard: /);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await svc.deliveries(d.key, rebind.id)).toHaveLength(1);
      expect(await svc.deliveries(d.key, exact.id)).toHaveLength(1);
      expect(dialer.dialled).not.toContain('10.0.0.7');
      expect(dialer.dialled.filter((a) => a !== '127.0.0.1')).toEqual(['93.184.216.34']);
    } finally {
      await d.client.sessions.delete(session.id);
    }
  });

  it('go over TLS with the certificate checked against the URL\'s name', async () => {
    const c = await svc.account();
    const secure = await svc.register(c.key, 'https://secure.test/echo', ['session.created']);
    const wrong = await svc.register(c.key, 'https://wrongname.test/echo', ['session.created']);
    const session = await c.client.sessions.create();
    try {
      const [ok] = await attemptsOf(svc, c.key, secure.id);
      expect(ok).toMatchObject({ ok: true, statusCode: 200, attempt: 1 });
      expect(tls.https.hits.get('/echo')).toBeGreaterThanOrEqual(1);
      const [mismatch] = await attemptsOf(svc, c.key, wrong.id);
      expect(mismatch!.ok).toBe(false);
      expect(mismatch!.error).toMatch(/^tls: .*wrongname\.test/);
      expect(mismatch!.nextAttemptAt).not.toBeNull();
    } finally {
      await c.client.sessions.delete(session.id);
    }
  });
});
