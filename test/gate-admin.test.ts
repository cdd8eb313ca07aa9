import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { signAdminToken } from '../core/admin-token.ts';
import { startApi } from '../api/main.ts';
import { adminCli, http, newAccount } from './support/harness.ts';

// An API instance of its own with the admin API enabled, on the suite's Redis prefix (the
// suite's API runs without ADMIN_JWT_SECRET, so its /admin/* is closed).
const SECRET = randomBytes(24).toString('base64url');
let api: Awaited<ReturnType<typeof startApi>>;
let base: string;

beforeAll(async () => {
  api = await startApi({ ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: inject('redisPrefix'), PORT: '0', LOG_LEVEL: 'silent', ADMIN_JWT_SECRET: SECRET });
  base = api.url;
});
afterAll(() => api.stop());

const admin = (method: string, path: string, token: string | undefined, body?: unknown) =>
  http(method, `/admin${path}`, { base, body, headers: token ? { authorization: `Bearer ${token}` } : {} });
const valid = () => signAdminToken(SECRET, 300).token;

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

function expect401(r: Awaited<ReturnType<typeof http>>) {
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('Bearer');
  expect(r.json.error.code).toBe('unauthorized');
}

describe('admin API', () => {
  it('runs every operation of the CLI with a valid admin JWT', async () => {
    const t = valid();
    const name = `adm-${randomBytes(4).toString('hex')}`;
    expect((await admin('POST', '/accounts', t, { name, plan: 'free' })).status).toBe(201);
    expect((await admin('GET', '/accounts', t)).json.accounts).toContainEqual(expect.objectContaining({ name, plan: 'free' }));
    expect((await admin('PUT', `/accounts/${name}/plan`, t, { plan: 'paid' })).json).toMatchObject({ name, plan: 'paid' });
    const created = await admin('POST', `/accounts/${name}/keys`, t, { label: 'ci' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^btk_[0-9A-Za-z]{40}$/), account: name, plan: 'paid' });
    expect((await http('GET', '/usage', { key: created.json.key })).json).toMatchObject({ account: name, plan: 'paid' });
    const listed = await admin('GET', `/accounts/${name}/keys`, t);
    expect(listed.json.keys).toEqual([expect.objectContaining({ id: created.json.id, label: 'ci', revokedAt: null })]);
    expect(listed.text).not.toContain(created.json.key);
    expect(listed.text).not.toMatch(/"hash"/);
    const usage = await admin('GET', `/accounts/${name}/usage`, t);
    expect(usage.json).toMatchObject({ account: name, plan: 'paid', limits: { requestsPerMinute: 1000, maxSessions: 100 } });
    expect(usage.json.days.reduce((n: number, d: { requests: number }) => n + d.requests, 0)).toBe(1);
    const revoked = await admin('DELETE', `/keys/${created.json.id}`, t);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect401(await http('GET', '/usage', { key: created.json.key }));
  });

  it('accepts a token minted by `buntime-admin token` with the same secret', async () => {
    const cli = await adminCli(['token', '--ttl', '120'], { ADMIN_JWT_SECRET: SECRET });
    expect(cli.code).toBe(0);
    const token = cli.stdout.trim();
    expect(jwt.decode(token)).toMatchObject({ scope: 'admin', exp: expect.any(Number) });
    expect((await admin('GET', '/accounts', token)).status).toBe(200);
    // The CLI does not mint what the API would refuse.
    expect((await adminCli(['token', '--ttl', String(2 * 86_400)], { ADMIN_JWT_SECRET: SECRET })).code).not.toBe(0);
    const noSecret = await adminCli(['token']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stdout).toBe('');
  });

  it('refuses expired, too long-lived, wrong-secret, missing, unsigned, non-HS256, exp-less and non-admin tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad = {
      expired: jwt.sign({ scope: 'admin', exp: now - 10 }, SECRET, { algorithm: 'HS256' }),
      wrongSecret: jwt.sign({ scope: 'admin', exp: now + 300 }, `${SECRET}x`, { algorithm: 'HS256' }),
      hs512: jwt.sign({ scope: 'admin', exp: now + 300 }, SECRET, { algorithm: 'HS512' }),
      none: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scope: 'admin', exp: now + 300 })}.`,
      noExp: jwt.sign({ scope: 'admin' }, SECRET, { algorithm: 'HS256' }),
      notAdmin: jwt.sign({ scope: 'session', exp: now + 300 }, SECRET, { algorithm: 'HS256' }),
      // Longer-lived than ADMIN_TOKEN_MAX_TTL (24 h by default): a leaked token must not live for years.
      tenYears: jwt.sign({ scope: 'admin', exp: now + 10 * 365 * 86_400 }, SECRET, { algorithm: 'HS256' }),
      twoDays: jwt.sign({ scope: 'admin', exp: now + 2 * 86_400 }, SECRET, { algorithm: 'HS256' }),
      apiKey: (await newAccount()).key,
      garbage: 'not-a-token',
    };
    for (const token of Object.values(bad)) expect401(await admin('GET', '/accounts', token));
    expect401(await admin('GET', '/accounts', undefined));
    expect401(await http('GET', '/admin/accounts', { base, headers: { authorization: `Basic ${valid()}` } }));
  });

  it('checks the token before anything else: unknown admin paths are 401 without it, 404 with it', async () => {
    expect401(await admin('GET', '/nope', undefined));
    const r = await admin('GET', '/nope', valid());
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('not_found');
    expect((await admin('POST', '/accounts', valid(), { name: 'x', plan: 'gold' })).json.error).toMatchObject({ code: 'invalid_request' });
  });

  it('is closed on an API without ADMIN_JWT_SECRET, whatever the token', async () => {
    const { ADMIN_JWT_SECRET: _, ...env } = process.env;
    const closed = await startApi({ ...env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: inject('redisPrefix'), PORT: '0', LOG_LEVEL: 'silent' });
    try {
      expect401(await http('GET', '/admin/accounts', { base: closed.url, headers: { authorization: `Bearer ${valid()}` } }));
      expect401(await http('GET', '/admin/accounts', { base: closed.url }));
    } finally {
      await closed.stop();
    }
  });
});
