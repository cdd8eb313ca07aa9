import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { createRegistry, metricsAllowed, RedisErrorCounter, redisErrorKind } from './metrics.ts';
import { createRedis } from './redis.ts';
import { isLoopbackHost } from './net/loopback.ts';

describe('metrics access', () => {
  it('needs the exact bearer token when one is set, on any listener', () => {
    const token = 'metrics-token-0123456789';
    expect(metricsAllowed(`Bearer ${token}`, token, false)).toBe(true);
    expect(metricsAllowed(`bearer ${token}`, token, true)).toBe(true);
    expect(metricsAllowed(undefined, token, true)).toBe(false);
    expect(metricsAllowed(`Bearer ${token}x`, token, true)).toBe(false);
    expect(metricsAllowed(`Basic ${token}`, token, true)).toBe(false);
  });

  it('without a token, is open on loopback only', () => {
    expect(metricsAllowed(undefined, undefined, true)).toBe(true);
    expect(metricsAllowed('Bearer anything', undefined, false)).toBe(false);
    for (const h of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('is configured safely: a runner listener off loopback needs METRICS_TOKEN', () => {
    expect(loadConfig({}).METRICS_PORT).toBeUndefined();
    expect(() => loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toThrow(/METRICS_TOKEN: required when METRICS_HOST/);
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0', METRICS_TOKEN: 't'.repeat(16) }).METRICS_HOST).toBe('0.0.0.0');
    expect(loadConfig({ METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });
});

describe('Redis errors', () => {
  it('are sorted into unavailable, timeout and reply; a script not cached yet is no error', () => {
    expect(redisErrorKind(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('unavailable');
    expect(redisErrorKind(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('unavailable');
    expect(redisErrorKind(new Error('Command timed out'))).toBe('timeout');
    expect(redisErrorKind(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe('reply');
    expect(redisErrorKind(new Error('NOSCRIPT No matching script'))).toBeUndefined();
  });

  it('are counted on a watched connection that cannot reach Redis', async () => {
    const registry = createRegistry();
    const errors = new RedisErrorCounter(registry);
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    const redis = createRedis('redis://127.0.0.1:1', { enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    errors.watch(redis, 'down');
    await redis.connect().catch(() => {});
    await expect(redis.get('x')).rejects.toThrow();
    redis.disconnect();
    expect(await registry.metrics()).toContain('buntime_redis_errors_total{connection="down",kind="unavailable"} 1');
  });
});

describe('registries', () => {
  it('are separate per process part and carry the process series', async () => {
    const a = createRegistry();
    const b = createRegistry();
    expect(a).not.toBe(b);
    expect(await a.metrics()).toMatch(/^buntime_process_cpu_seconds_total/m);
  });
});
