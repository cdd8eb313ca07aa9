import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminToken } from '../core/admin-token.ts';
import { adminCli, http } from './support/harness.ts';
import { RecordingDialer, startWebhookReceiver, type WebhookReceiver } from './support/webhook-fixtures.ts';
import { attemptsOf, startWebhookService, type WebhookService } from './support/webhook-service.ts';

const ADMIN_SECRET = randomBytes(24).toString('hex');
let receiver: WebhookReceiver;
let svc: WebhookService;
let base = '';

/**
 * A service of this file's own; `hooks.test` is a receiver on 127.0.0.1; names resolve to
 * nothing. At most 2 deliveries pending per account; a failed one is retried once, 15 s later,
 * so deliveries stay pending while a test looks.
 */
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  svc = await startWebhookService({
    internalHosts: [`hooks.test=127.0.0.1:${receiver.port}`], dialer: new RecordingDialer(),
    env: { ADMIN_JWT_SECRET: ADMIN_SECRET, WEBHOOK_MAX_PENDING: '2', WEBHOOK_BACKOFF_BASE_MS: '15000', WEBHOOK_MAX_ATTEMPTS: '2' },
  });
  base = svc.base;
});
afterAll(async () => {
  await svc?.stop();
  await receiver?.stop();
});

describe('webhook administration', () => {
  it('belong to their account; session tokens cannot reach them; bodies are validated', async () => {
    const e = await svc.account();
    const f = await svc.account();
    const hook = await svc.register(e.key, 'http://hooks.test/e', ['session.deleted']);
    expect((await svc.call('GET', `/webhooks/${hook.id}/deliveries`, f.key)).status).toBe(404);
    expect((await svc.call('DELETE', `/webhooks/${hook.id}`, f.key)).status).toBe(404);
    expect((await svc.call('GET', '/webhooks', f.key)).json.webhooks).toEqual([]);
    const session = await e.client.sessions.create();
    try {
      const token = (await svc.call('POST', `/sessions/${session.id}/token`, e.key, {})).json.token as string;
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
      expect((await svc.call('POST', '/webhooks', e.key, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await svc.call('DELETE', `/webhooks/${hook.id}`, e.key)).toMatchObject({ status: 200, json: { deleted: true, id: hook.id } });
    expect((await svc.call('GET', `/webhooks/${hook.id}/deliveries`, e.key)).status).toBe(404);
  });

  it('are bounded: 20 per account, and deliveries pending per account (the excess is dropped and logged)', async () => {
    const h = await svc.account();
    const failing = await svc.register(h.key, 'http://hooks.test/fail/h', ['session.created']);
    for (let i = 1; i < 20; i++) await svc.register(h.key, `http://hooks.test/other/${i}`, ['session.deleted']);
    const over = await svc.call('POST', '/webhooks', h.key, { url: 'http://hooks.test/21', events: ['session.created'] });
    expect([over.status, over.json.error.details.limit]).toEqual([400, 20]);

    // Three creates while the first deliveries wait for their retry: the third finds 2 pending.
    const sessions = [];
    try {
      for (let i = 0; i < 3; i++) sessions.push(await h.client.sessions.create());
      const log = await attemptsOf(svc, h.key, failing.id, 3);
      const dropped = log.filter((a) => a.error?.startsWith('dropped:'));
      expect(dropped).toHaveLength(1);
      expect(dropped[0]).toMatchObject({ attempt: 0, ok: false, nextAttemptAt: null });
      expect(dropped[0]!.error).toMatch(/2 deliveries of this account are pending/);
      expect(log.filter((a) => a.error === 'http_500')).toHaveLength(2);
    } finally {
      for (const s of sessions) await h.client.sessions.delete(s.id);
    }
  });

  it('are managed through the admin API and the CLI with the same checks', async () => {
    const g = await svc.account();
    const admin = { authorization: `Bearer ${signAdminToken(ADMIN_SECRET, 300).token}` };
    const created = await http('POST', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin, body: { url: 'http://hooks.test/g', events: ['session.created'] } });
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    expect((await http('POST', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin, body: { url: 'https://10.20.30.40/', events: ['session.created'] } })).status).toBe(400);
    expect((await http('POST', '/admin/accounts/no-such-account/webhooks', { base, headers: admin, body: { url: 'http://hooks.test/g', events: ['session.created'] } })).status).toBe(404);
    expect((await http('GET', `/admin/accounts/${g.name}/webhooks`, { base, headers: admin })).json.webhooks).toHaveLength(1);
    expect((await http('GET', `/admin/webhooks/${created.json.id}/deliveries`, { base, headers: admin })).json).toEqual({ deliveries: [] });
    expect((await http('GET', `/admin/accounts/${g.name}/webhooks`, { base })).status).toBe(401);

    const cliEnv = { REDIS_PREFIX: svc.env.REDIS_PREFIX!, EGRESS_RESOLVER: 'static', WEBHOOK_INTERNAL_HOSTS: svc.env.WEBHOOK_INTERNAL_HOSTS! };
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
