import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRegistry, RedisErrorCounter } from '../core/metrics.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';
import { parsePromText, scrape, sumOf } from './support/prom-text.ts';

const TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
let stop: () => Promise<void> = async () => {};
let apiUrl = '';
let runnerMetrics = '';
let nodeId = '';
let client: Buntime;

/** A runner with its own metrics listener and an API, both asking for METRICS_TOKEN; sessions idle after 1 s. */
beforeAll(async () => {
  const run = randomBytes(4).toString('hex');
  nodeId = `metrics-${run}`;
  const env = {
    ...process.env, REDIS_PREFIX: `btmetrics-${run}`, NODE_ID: nodeId, PORT: '0', LOG_LEVEL: 'warn',
    METRICS_PORT: '0', METRICS_TOKEN: TOKEN, IDLE_AFTER: '1', SLEEP_AFTER: '600', WARM_POOL_SIZE: '1',
  };
  const runner = await startRunner(env);
  const api = await startApi(env);
  stop = async () => { await api.stop(); await runner.stop(); };
  apiUrl = api.url;
  runnerMetrics = runner.metricsUrl!;
  const redis = createRedis(inject('redisUrl'));
  try {
    const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
    await accounts.createAccount(`m-${run}`, 'free');
    const { key } = await accounts.createKey(`m-${run}`);
    const { Buntime } = await import('@buntime/sdk');
    client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
  } finally {
    redis.disconnect();
  }
});
afterAll(() => stop());

/** Polls `fn` until it returns true, failing after `ms`. */
async function until(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('/metrics', () => {
  it('asks for METRICS_TOKEN on the API and on the runner listener', async () => {
    for (const url of [`${apiUrl}/metrics`, runnerMetrics]) {
      expect((await fetch(url)).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, url).toBe(200);
    }
    expect(runnerMetrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  it('after 10 executes: executions by status and latency histograms on the API, sessions by state and job metrics on the runner', async () => {
    const session = await client.sessions.create();
    try {
      for (let i = 0; i < 10; i++) expect((await client.execute({ sessionId: session.id, code: `console.log(${i})` })).status).toBe('ok');
      await client.execute({ sessionId: session.id, command: 'exit 3' });

      const api = await scrape(`${apiUrl}/metrics`, TOKEN);
      expect(api.types.get('buntime_executions_total')).toBe('counter');
      expect(sumOf(api.samples, 'buntime_executions_total', { status: 'ok' })).toBeGreaterThanOrEqual(10);
      expect(sumOf(api.samples, 'buntime_executions_total', { status: 'error' })).toBeGreaterThanOrEqual(1);
      expect(api.types.get('buntime_http_request_duration_seconds')).toBe('histogram');
      const execute = { method: 'POST', route: '/execute', status: '200' };
      expect(sumOf(api.samples, 'buntime_http_request_duration_seconds_count', execute)).toBeGreaterThanOrEqual(11);
      expect(sumOf(api.samples, 'buntime_http_request_duration_seconds_bucket', { ...execute, le: '+Inf' })).toBeGreaterThanOrEqual(11);
      expect(sumOf(api.samples, 'buntime_http_requests_total', { method: 'POST', route: '/sessions/create', status: '200' })).toBe(1);
      expect(sumOf(api.samples, 'buntime_execution_duration_seconds_count', { status: 'ok' })).toBeGreaterThanOrEqual(10);
      // Buckets are cumulative: each is at least the one before it.
      const buckets = api.samples.filter((s) => s.name === 'buntime_http_request_duration_seconds_bucket' && s.labels.route === '/execute' && s.labels.status === '200');
      expect(buckets.length).toBeGreaterThan(5);
      buckets.reduce((prev, b) => { expect(b.value).toBeGreaterThanOrEqual(prev); return b.value; }, 0);
      expect(api.text).not.toContain(session.id);

      const node = await scrape(runnerMetrics, TOKEN);
      expect(sumOf(node.samples, 'buntime_sessions', { node: nodeId, state: 'active' })).toBe(1);
      expect(sumOf(node.samples, 'buntime_job_queue_wait_seconds_count', { node: nodeId, lane: 'exec', job: 'execute' })).toBeGreaterThanOrEqual(11);
      expect(sumOf(node.samples, 'buntime_job_slots', { node: nodeId, lane: 'exec' })).toBeGreaterThan(0);
      expect(node.samples.some((s) => s.name === 'buntime_job_slots_in_use' && s.labels.lane === 'control')).toBe(true);
      expect(sumOf(node.samples, 'buntime_container_create_seconds_count', { node: nodeId })).toBeGreaterThanOrEqual(1);
      expect(node.samples.some((s) => s.name === 'buntime_warm_pool_ready' && s.labels.node === nodeId)).toBe(true);
      expect(sumOf(node.samples, 'buntime_warm_pool_target', { node: nodeId })).toBe(1);
      for (const name of ['buntime_egress_connections_total', 'buntime_egress_bytes_total', 'buntime_redis_errors_total', 'buntime_webhook_deliveries_total']) {
        expect(node.types.has(name), name).toBe(true);
      }
      expect(node.text).not.toContain(session.id);

      // Unused for IDLE_AFTER: the runner reports it idle; the next execute wakes it (a wake duration).
      await until('the session to be reported idle', async () =>
        sumOf((await scrape(runnerMetrics, TOKEN)).samples, 'buntime_sessions', { node: nodeId, state: 'idle' }) === 1);
      expect((await client.execute({ sessionId: session.id, code: 'console.log("awake")' })).stdout).toBe('awake\n');
      const woke = await scrape(runnerMetrics, TOKEN);
      expect(sumOf(woke.samples, 'buntime_session_wake_seconds_count', { node: nodeId, from: 'idle' })).toBe(1);
      expect(sumOf(woke.samples, 'buntime_sessions', { node: nodeId, state: 'active' })).toBe(1);
    } finally {
      await client.sessions.delete(session.id).catch(() => {});
    }
  });

  it('counts failed Redis commands by kind on the connections it watches (single, pipelined, scripts)', async () => {
    const registry = createRegistry();
    const errors = new RedisErrorCounter(registry);
    const redis = createRedis(inject('redisUrl'));
    const key = `btmetrics-wrongtype-${randomBytes(4).toString('hex')}`;
    try {
      errors.watch(redis, 'probe');
      await redis.set(key, 'x', 'EX', 60);
      await expect(redis.lpush(key, 'y')).rejects.toThrow(/WRONGTYPE/);
      const piped = await redis.pipeline().get(key).lpush(key, 'z').exec();
      expect(piped?.[1]?.[0]).toBeInstanceOf(Error);
      await expect(redis.evalsha('0'.repeat(40), 0)).rejects.toThrow(/NOSCRIPT/);
      const { samples } = parsePromText(await registry.metrics());
      expect(sumOf(samples, 'buntime_redis_errors_total', { connection: 'probe', kind: 'reply' })).toBe(2);
      expect(sumOf(samples, 'buntime_redis_errors_total', { connection: 'probe', kind: 'unavailable' })).toBe(0);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('parses strictly (the format test itself)', () => {
    expect(() => parsePromText('x{a="1"} 2\n# HELP x y\n# TYPE x counter\n')).not.toThrow();
    expect(() => parsePromText('x{a=1} 2\n')).toThrow();
    expect(() => parsePromText('garbage\n')).toThrow();
  });
});
