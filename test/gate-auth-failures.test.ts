import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { http } from './support/harness.ts';

// API instances of their own, each under a fresh Redis prefix (so failure counters start at 0),
// with the default limit of 60 failed authentications per address and minute. No runner is
// needed: GET /usage only reads Redis.
type Api = Awaited<ReturnType<typeof startApi>>;
const apis: Api[] = [];

const TOKEN_SECRET = randomBytes(32).toString('hex');

async function service(trustProxy: string) {
  const prefix = `btauth-${randomBytes(4).toString('hex')}`;
  const api = await startApi({
    ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: prefix, PORT: '0', LOG_LEVEL: 'silent', TRUST_PROXY: trustProxy,
    AUTH_FAILURES_PER_MINUTE: '60', SESSION_TOKEN_SECRET: TOKEN_SECRET,
  });
  apis.push(api);
  const redis = createRedis(inject('redisUrl'));
  try {
    const accounts = new AccountStore(redis, new Keys(prefix));
    await accounts.createAccount('auth', 'free');
    return { base: api.url, key: (await accounts.createKey('auth', 'test')).key };
  } finally {
    redis.disconnect();
  }
}

const badKey = () => `btk_${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x').slice(0, 40)}`;
const usage = (base: string, key: string, from?: string) =>
  http('GET', '/usage', { base, key, headers: from ? { 'x-forwarded-for': from } : {} });

let direct: { base: string; key: string };
let proxied: { base: string; key: string };
let browsers: { base: string; key: string };

beforeAll(async () => {
  [direct, proxied, browsers] = await Promise.all([service('false'), service('true'), service('false')]);
});
afterAll(async () => {
  await Promise.all(apis.map((a) => a.stop()));
});

describe('failed authentications per client address', () => {
  it('answers 429 with Retry-After past 60 bad keys in a minute, exactly, even in parallel, and then refuses good keys too', async () => {
    const statuses: number[] = [];
    const retryAfter: number[] = [];
    for (let batch = 0; batch < 5; batch++) {
      // TRUST_PROXY is off here: a forged X-Forwarded-For changes nothing.
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => usage(direct.base, badKey(), `127.0.0.${10 + i}`)));
      for (const a of answers) {
        statuses.push(a.status);
        if (a.status === 429) {
          expect(a.json.error).toMatchObject({ code: 'rate_limit_exceeded', details: { reason: 'authentication_failures', limit: 60 } });
          retryAfter.push(Number(a.headers.get('retry-after')));
        } else {
          expect(a.json.error.code).toBe('unauthorized');
        }
      }
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(60);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    expect(retryAfter.every((s) => s >= 1 && s <= 60)).toBe(true);
    // A valid key still works from a blocked address (a client sharing its NAT with a guesser is
    // not locked out); only further failures are refused.
    expect((await usage(direct.base, direct.key)).status).toBe(200);
    expect((await usage(direct.base, badKey())).status).toBe(429);
    // Missing credentials are not guesses and are not counted (still a plain 401).
    expect((await http('GET', '/usage', { base: direct.base })).status).toBe(401);
  });

  it('gives every X-Forwarded-For address its own budget when TRUST_PROXY is on', async () => {
    const first = await Promise.all(Array.from({ length: 61 }, () => usage(proxied.base, badKey(), '127.0.0.2')));
    expect(first.filter((a) => a.status === 401)).toHaveLength(60);
    expect(first.filter((a) => a.status === 429)).toHaveLength(1);
    expect((await usage(proxied.base, badKey(), '127.0.0.2')).status).toBe(429);
    expect((await usage(proxied.base, proxied.key, '127.0.0.2')).status).toBe(200);
    // Another client behind the same proxy: untouched.
    expect((await usage(proxied.base, badKey(), '127.0.0.3')).status).toBe(401);
    expect((await usage(proxied.base, proxied.key, '127.0.0.3')).status).toBe(200);
    // The proxy appends the address it saw: what a client writes in front of it is not trusted.
    expect((await usage(proxied.base, proxied.key, '127.0.0.9, 127.0.0.3')).status).toBe(200);
    expect((await usage(proxied.base, badKey(), '127.0.0.3, 127.0.0.2')).status).toBe(429);
  });

  it('does not count a browser\'s expired preview cookie as a guess, but does count forged ones', async () => {
    const claims = { scope: 'session', account: 'auth', keyId: 'key_x', sub: 'ses_x', aud: 'buntime:session' };
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, TOKEN_SECRET, { algorithm: 'HS256' });
    const forged = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }, 'not-our-secret', { algorithm: 'HS256' });
    const page = (token: string) => http('GET', '/preview/ses_x/app.js', { base: browsers.base, headers: { cookie: `buntime_preview=${token}` } });
    const stale = await Promise.all(Array.from({ length: 80 }, () => page(expired)));
    expect(stale.every((a) => a.status === 401)).toBe(true);
    const guesses = await Promise.all(Array.from({ length: 61 }, () => page(forged)));
    expect(guesses.filter((a) => a.status === 429)).toHaveLength(1);
  });
});
