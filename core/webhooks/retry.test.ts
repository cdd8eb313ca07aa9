import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { RETRY_WINDOW_MS, deliveryJobOptions, retryDelayMs, retrySpanMs } from './retry.ts';

describe('webhook retries', () => {
  it('double the wait after each failed attempt', () => {
    const policy = { maxAttempts: 4, baseMs: 1000 };
    expect([1, 2, 3].map((n) => retryDelayMs(policy, n))).toEqual([1000, 2000, 4000]);
    expect(retrySpanMs(policy)).toBe(7000);
    expect(deliveryJobOptions(policy, 'evt_1.wh_1')).toMatchObject({
      jobId: 'evt_1.wh_1', attempts: 4, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true,
    });
  });

  it('span at most 24 h with the defaults, and a configuration past that is refused', () => {
    const cfg = loadConfig({});
    const span = retrySpanMs({ maxAttempts: cfg.WEBHOOK_MAX_ATTEMPTS, baseMs: cfg.WEBHOOK_BACKOFF_BASE_MS });
    expect(span).toBeLessThanOrEqual(RETRY_WINDOW_MS);
    expect(span).toBeGreaterThan(12 * 3_600_000);
    expect(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '12' })).toThrow(/WEBHOOK_MAX_ATTEMPTS.*at most 24 h/);
    expect(() => loadConfig({ WEBHOOK_MAX_ATTEMPTS: '30', WEBHOOK_BACKOFF_BASE_MS: '100' })).toThrow(/at most 24 h/);
    expect(loadConfig({ WEBHOOK_MAX_ATTEMPTS: '4', WEBHOOK_BACKOFF_BASE_MS: '200' }).WEBHOOK_BACKOFF_BASE_MS).toBe(200);
  });
});
