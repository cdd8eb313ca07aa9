import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startApi } from '../api/main.ts';

/** An API of its own whose log lines the test reads. */
async function apiWithLog(trustProxy: boolean) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const env = {
    ...process.env, REDIS_PREFIX: `bttrust-${randomBytes(4).toString('hex')}`, PORT: '0', LOG_LEVEL: 'info',
    TRUST_PROXY: String(trustProxy),
  };
  const api = await startApi(env, { logDestination: sink });
  return { api, lines };
}

/** The client address the API logged for one request carrying `X-Forwarded-For`. */
async function loggedIp(trustProxy: boolean): Promise<unknown> {
  const { api, lines } = await apiWithLog(trustProxy);
  try {
    // A documentation address in a header: nothing is ever sent to it.
    await fetch(`${api.url}/health`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    await expect.poll(() => lines.find((l) => l.msg === 'request')).toBeDefined();
    return lines.find((l) => l.msg === 'request')?.ip;
  } finally {
    await api.stop();
  }
}

describe('TRUST_PROXY', () => {
  it('takes the client address from X-Forwarded-For only when set', async () => {
    expect(await loggedIp(true)).toBe('203.0.113.7');
    expect(await loggedIp(false)).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
