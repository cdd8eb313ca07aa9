import { randomBytes } from 'node:crypto';
import type { Buntime } from '@buntime/sdk';
import { afterAll, beforeAll, inject } from 'vitest';
import { startApi } from '../../api/main.ts';
import { AccountStore } from '../../core/accounts.ts';
import { startRunner } from '../../runner/main.ts';
import { RunnerProcess } from './runner-process.ts';
import { createRedis, Keys } from '../../core/redis.ts';
import { SUITE_EGRESS_ENV } from './egress-env.ts';
import { removeTestNode } from './node-cleanup.ts';

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

/**
 * A raw HTTP call to the API, for tests of the wire format itself. `base` targets another API
 * instance than the suite's (default {@link apiUrl}).
 */
export async function http(method: string, path: string, opts: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${opts.base ?? apiUrl()}${path}`, { method, headers, body });
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

/** Creates one more key for `account` (keys of one account share its plan and session cap). */
export async function newKey(account: string, label = 'test') {
  const { redis, keys } = testRedis();
  try {
    const { key, info } = await new AccountStore(redis, keys).createKey(account, label);
    return { key, keyId: info.id };
  } finally {
    redis.disconnect();
  }
}

/**
 * Runs `node bin/buntime-admin.mjs ARGS` as a child process against this test run's Redis and
 * prefix (or those in `env`), and reports its exit code and output.
 */
export async function adminCli(args: string[], env: Record<string, string> = {}) {
  const { execFile } = await import('node:child_process');
  const root = new URL('../../', import.meta.url).pathname;
  const childEnv = { PATH: process.env.PATH ?? '', REDIS_URL: inject('redisUrl'), REDIS_PREFIX: inject('redisPrefix'), ...env };
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('node', ['bin/buntime-admin.mjs', ...args], { cwd: root, env: childEnv, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Deletes every session of the account behind `key` (raw HTTP, for tests without the SDK). */
export async function deleteSessionsOf(key: string) {
  const list = await http('GET', '/sessions?limit=1000', { key });
  const ids: string[] = (list.json?.sessions ?? []).map((s: { sessionId: string }) => s.sessionId);
  await Promise.all(ids.map((id) => http('DELETE', `/sessions/${id}`, { key })));
}

/**
 * A fresh account on `plan`, its SDK client and one session, made before a file's tests and
 * cleaned up after them. Read the fields inside tests (they are set in `beforeAll`).
 */
export function useSession(plan: 'free' | 'paid' | 'enterprise' = 'free', create: Parameters<Buntime['sessions']['create']>[0] = {}) {
  const fixture = {} as { client: Buntime; key: string; sessionId: string };
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const c = await newClient(plan);
    cleanup = c.cleanup;
    Object.assign(fixture, { client: c.client, key: c.account.key, sessionId: (await c.client.sessions.create(create)).id });
  });
  afterAll(() => cleanup());
  return fixture;
}

/**
 * A service of a test's own: a runner and an API under a fresh Redis prefix and node id, with
 * `overrides` on top of the environment (e.g. `IDLE_AFTER`, `WARM_POOL_SIZE`, a `REDIS_URL` of its own) and the
 * suite's egress settings on top of those (static resolver, test guard). `client(plan)`
 * makes an account there and an SDK client for it (`account(plan)`: and its key); `stop()` stops both.
 */
export async function ownService(name: string, overrides: Record<string, string> = {}, opts: { runnerProcess?: boolean } = {}) {
  const run = randomBytes(4).toString('hex');
  const env = {
    ...process.env, REDIS_PREFIX: `bt${name}-${run}`, NODE_ID: `${name}-${run}`, PORT: '0', LOG_LEVEL: 'warn',
    NPM_REGISTRY_URL: SUITE_EGRESS_ENV.NPM_REGISTRY_URL, ...overrides,
    // Whatever a test overrides, its service never resolves a name by DNS nor dials off loopback.
    EGRESS_RESOLVER: SUITE_EGRESS_ENV.EGRESS_RESOLVER, EGRESS_TEST_GUARD: SUITE_EGRESS_ENV.EGRESS_TEST_GUARD,
    EGRESS_STATIC_HOSTS: overrides.EGRESS_STATIC_HOSTS ?? SUITE_EGRESS_ENV.EGRESS_STATIC_HOSTS,
  };
  // In a process of its own when a test must kill it for real.
  const launch = (e: typeof env) => (opts.runnerProcess ? RunnerProcess.start(e) : startRunner(e));
  let runner: { stop(): Promise<void>; kill9?: () => Promise<void>; egressStats?: () => unknown } = await launch(env);
  const api = await startApi(env);
  const keys = new Keys(env.REDIS_PREFIX);
  /** A fresh account on `plan` there: its name, key and an SDK client. */
  const account = async (plan: 'free' | 'paid' | 'enterprise' = 'free') => {
    const redis = createRedis(overrides.REDIS_URL ?? inject('redisUrl'));
    try {
      const accounts = new AccountStore(redis, keys);
      const accountName = `${name}-${randomBytes(3).toString('hex')}`;
      await accounts.createAccount(accountName, plan);
      const { key } = await accounts.createKey(accountName);
      const { Buntime } = await import('@buntime/sdk');
      return { name: accountName, key, client: new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 }) };
    } finally {
      redis.disconnect();
    }
  };
  const client = async (plan: 'free' | 'paid' | 'enterprise' = 'free') => (await account(plan)).client;
  return {
    env, keys, api, client, account,
    nodeId: env.NODE_ID,
    /** The runner's egress counters (dials, test-guard refusals, open connections). */
    egressStats: () => {
      if (!runner.egressStats) throw new Error('egressStats needs an in-process runner');
      return runner.egressStats() as ReturnType<Awaited<ReturnType<typeof startRunner>>['egressStats']>;
    },
    stopRunner: () => runner.stop(),
    /** kill -9 of the runner (needs `runnerProcess`). */
    killRunner: async () => {
      if (!runner.kill9) throw new Error('killRunner needs ownService(…, { runnerProcess: true })');
      await runner.kill9();
    },
    restartRunner: async (more: Record<string, string> = {}) => { runner = await launch({ ...env, ...more }); },
    stop: async () => {
      await api.stop();
      await runner.stop();
      await removeTestNode(env.NODE_ID, env);
    },
  };
}
