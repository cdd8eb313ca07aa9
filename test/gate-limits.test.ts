import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';
import { removeTestNode } from './support/node-cleanup.ts';
import { deleteSessionsOf, http, newAccount, newClient, newKey } from './support/harness.ts';

// Every test here runs concurrently (describe.concurrent groups run side by side too): the
// rate-limit window and the TTL expiry each wait up to a minute, so the file takes about one.
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (days: Array<Record<string, number>>, f: string) => days.reduce((n, d) => n + (d[f] ?? 0), 0);

/** Waits, if needed, until the current minute window has at least `ms` left. */
async function roomInWindow(ms: number) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < ms) await sleep(left + 50);
}

describe.concurrent('rate limit', () => {
  it('lets a free key make 100 requests a minute, refuses the 101st, per key, until the next window', async () => {
    const acc = await newAccount('free');
    const second = await newKey(acc.name);
    await roomInWindow(20_000);
    for (let i = 1; i <= 100; i++) {
      const r = await http('GET', '/sessions', { key: acc.key });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-remaining')).toBe(String(100 - i));
    }
    const over = await http('GET', '/sessions', { key: acc.key });
    const resetSec = Number(over.headers.get('x-ratelimit-reset'));
    expect(over.status).toBe(429);
    expect(over.json.error).toMatchObject({ code: 'rate_limit_exceeded', details: { limit: 100 } });
    expect(over.headers.get('x-ratelimit-limit')).toBe('100');
    expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Math.abs(resetSec - Date.now() / 1000 - retryAfter)).toBeLessThanOrEqual(2);

    const other = await http('GET', '/sessions', { key: second.key });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-remaining')).toBe('99');

    await sleep(resetSec * 1000 - Date.now() + 100);
    const later = await http('GET', '/sessions', { key: acc.key });
    expect(later.status).toBe(200);
    expect(later.headers.get('x-ratelimit-remaining')).toBe('99');
  }, 120_000);

  it('fails closed with 503 when Redis is unreachable', async () => {
    const proxy = await redisProxy(new URL(inject('redisUrl')));
    const api = await startApi({ ...process.env, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_PREFIX: inject('redisPrefix'), PORT: '0', LOG_LEVEL: 'silent' });
    try {
      const { key } = await newAccount('free');
      expect((await http('GET', '/sessions', { key, base: api.url })).status).toBe(200);
      await proxy.close();
      const r = await http('GET', '/sessions', { key, base: api.url });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('service_unavailable');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await proxy.close();
      await api.stop();
    }
  });
});

describe.concurrent('concurrent-session cap', () => {
  it('50 parallel creates give exactly 10 sessions and 40 × 429; the cap spans keys; a delete frees a slot at once', async () => {
    const acc = await newAccount('free');
    try {
      const all = await Promise.all(Array.from({ length: 50 }, () => http('POST', '/sessions/create', { key: acc.key, body: {} })));
      const created = all.filter((r) => r.status === 200);
      const refused = all.filter((r) => r.status === 429);
      expect(created).toHaveLength(10);
      expect(refused).toHaveLength(40);
      for (const r of refused) expect(r.json.error).toMatchObject({ code: 'session_limit_exceeded', details: { limit: 10 } });
      expect((await http('GET', '/sessions', { key: acc.key })).json.total).toBe(10);

      const second = await newKey(acc.name);
      expect((await http('POST', '/sessions/create', { key: second.key })).json.error.code).toBe('session_limit_exceeded');
      expect((await http('DELETE', `/sessions/${created[0]!.json.sessionId}`, { key: acc.key })).status).toBe(200);
      expect((await http('POST', '/sessions/create', { key: second.key })).status).toBe(200);
      expect((await http('POST', '/sessions/create', { key: acc.key })).status).toBe(429);
    } finally {
      await deleteSessionsOf(acc.key);
    }
  });

  it('a session with ttl 60 disappears on its own within ~70 s, frees its slot and counts 60 session-seconds', async () => {
    const { client, cleanup } = await newClient('free');
    try {
      const short = await client.sessions.create({ ttl: 60 });
      await Promise.all(Array.from({ length: 9 }, () => client.sessions.create()));
      await expect(client.sessions.create()).rejects.toMatchObject({ status: 429, code: 'session_limit_exceeded' });
      const created = Date.parse(short.createdAt);
      expect(Date.parse(short.expiresAt) - created).toBe(60_000);
      while ((await containersOf(short.id)).length > 0) {
        expect(Date.now() - created).toBeLessThan(70_000);
        await sleep(1000);
      }
      expect(Date.now() - created).toBeGreaterThanOrEqual(59_000);
      await expect(client.sessions.get(short.id)).rejects.toMatchObject({ status: 404, code: 'session_not_found' });
      expect((await client.sessions.create()).id).toMatch(/^ses_/);
      const usage = await client.usage() as { days: Array<Record<string, number>> };
      expect(sum(usage.days, 'sessionSeconds')).toBeGreaterThanOrEqual(59);
      expect(sum(usage.days, 'sessionSeconds')).toBeLessThanOrEqual(61);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('a create that fails on the node frees its slot: 12 failures in a row on a free account are never a 429', async () => {
    const run = randomBytes(4).toString('hex');
    const env = { ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `btfail-${run}`, NODE_ID: `fail-${run}`, PORT: '0', LOG_LEVEL: 'silent', SANDBOX_IMAGE: `buntime-sandbox:missing-${run}` };
    const runner = await startRunner(env);
    const api = await startApi(env);
    const redis = createRedis(inject('redisUrl'));
    try {
      const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
      await accounts.createAccount('failing', 'free');
      const { key } = await accounts.createKey('failing');
      for (let i = 0; i < 12; i++) {
        const r = await http('POST', '/sessions/create', { key, base: api.url });
        expect(r.status).toBe(503);
        expect(r.json.error.code).toBe('service_unavailable');
      }
      expect(await redis.zcard(new Keys(env.REDIS_PREFIX).accountSessions('failing'))).toBe(0);
    } finally {
      await api.stop();
      await runner.stop();
      await removeTestNode(env.NODE_ID, env);
      redis.disconnect();
    }
  });
});

describe.concurrent('plan ceilings', () => {
  it('free key: resourceLimits 403, ttl above 24 h 400, execute timeout above 30 s 400', async () => {
    const { key } = await newAccount('free');
    try {
      const limited = await http('POST', '/sessions/create', { key, body: { resourceLimits: { memory: 512 } } });
      expect(limited.status).toBe(403);
      expect(limited.json.error).toMatchObject({ code: 'forbidden', details: { field: 'resourceLimits' } });
      const ttl = await http('POST', '/sessions/create', { key, body: { ttl: 86_401 } });
      expect(ttl.status).toBe(400);
      expect(ttl.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'ttl', max: 86_400 } });
      const s = await http('POST', '/sessions/create', { key, body: { ttl: 86_400 } });
      expect(s.json.resourceLimits).toEqual({ memory: 1024, cpu: 0.25, timeout: 30, disk: 1024 });
      const slow = await http('POST', '/execute', { key, body: { sessionId: s.json.sessionId, command: 'true', timeout: 31 } });
      expect(slow.status).toBe(400);
      expect(slow.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'timeout', max: 30 } });
      const ok = await http('POST', '/execute', { key, body: { sessionId: s.json.sessionId, command: 'true', timeout: 30 } });
      expect(ok.json).toMatchObject({ exitCode: 0, status: 'ok' });
    } finally {
      await deleteSessionsOf(key);
    }
  });

  it('paid key: limits up to the ceilings pass, above them 400; ttl above 7 d 400; timeout above 300 s 400', async () => {
    const { key } = await newAccount('paid');
    try {
      const ceiling = { memory: 4096, cpu: 1, timeout: 300, disk: 5120 };
      const s = await http('POST', '/sessions/create', { key, body: { ttl: 604_800, resourceLimits: ceiling } });
      expect(s.status).toBe(200);
      expect(s.json.resourceLimits).toEqual(ceiling);
      for (const [field, value] of [['memory', 4097], ['cpu', 1.5], ['timeout', 301], ['disk', 5121]] as const) {
        const r = await http('POST', '/sessions/create', { key, body: { resourceLimits: { [field]: value } } });
        expect(r.status).toBe(400);
        expect(r.json.error).toMatchObject({ code: 'invalid_request', details: { field: `resourceLimits.${field}` } });
      }
      const ttl = await http('POST', '/sessions/create', { key, body: { ttl: 604_801 } });
      expect(ttl.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'ttl', max: 604_800 } });
      const slow = await http('POST', '/execute', { key, body: { sessionId: s.json.sessionId, command: 'true', timeout: 301 } });
      expect(slow.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'timeout', max: 300 } });
      const ok = await http('POST', '/execute', { key, body: { sessionId: s.json.sessionId, command: 'true', timeout: 300 } });
      expect(ok.json).toMatchObject({ exitCode: 0, status: 'ok' });
      expect((await http('GET', '/sessions', { key })).json.total).toBe(1);
    } finally {
      await deleteSessionsOf(key);
    }
  });
});

async function containersOf(sessionId: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
  return list.map((c) => c.Id);
}

/** A TCP proxy to Redis that can be cut: closing it drops every connection and refuses new ones. */
async function redisProxy(target: URL): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket().connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)); }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  }));
  return { port, close };
}
