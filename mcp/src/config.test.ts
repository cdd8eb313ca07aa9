import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL_SEC, parseCommand } from './config.ts';

const KEY = { BUNTIME_API_KEY: 'btk_test' };
const TOKEN = 'a-token-of-enough-length';

function run(argv: string[], env: NodeJS.ProcessEnv) {
  const c = parseCommand(argv, env);
  if (c.kind !== 'run') throw new Error('expected a run command');
  return c.config;
}

describe('parseCommand', () => {
  it('defaults to stdio against 127.0.0.1:3000 with a short ttl, deleting the session at the end', () => {
    expect(run([], KEY)).toEqual({ apiKey: 'btk_test', baseUrl: 'http://127.0.0.1:3000', ttlSec: DEFAULT_TTL_SEC, keepSession: false });
  });

  it('reads BUNTIME_URL, --ttl and --keep-session', () => {
    const c = run(['--ttl', '120', '--keep-session'], { ...KEY, BUNTIME_URL: 'http://127.0.0.1:4000/' });
    expect(c).toMatchObject({ baseUrl: 'http://127.0.0.1:4000', ttlSec: 120, keepSession: true });
  });

  it('HTTP mode binds loopback by default and collects allowed origins from flags and env', () => {
    const c = run(['--http', '8765', '--allow-origin', 'HTTP://Example.test:8080/'], {
      ...KEY, BUNTIME_MCP_TOKEN: TOKEN, BUNTIME_MCP_ALLOWED_ORIGINS: 'https://a.test, https://b.test',
    });
    expect(c.http).toEqual({
      port: 8765, host: '127.0.0.1', token: TOKEN,
      allowedOrigins: ['http://example.test:8080', 'https://a.test', 'https://b.test'],
    });
  });

  it('refuses HTTP mode without a token, listing every problem', () => {
    expect(() => run(['--http', '8765', '--ttl', '5'], {})).toThrow(/BUNTIME_API_KEY is required[\s\S]*at least 60[\s\S]*BUNTIME_MCP_TOKEN is required/);
    expect(() => run(['--http', '8765'], { ...KEY, BUNTIME_MCP_TOKEN: 'short' })).toThrow(/at least 16/);
  });

  it('rejects bad values and stray flags', () => {
    expect(() => run(['--http', 'nope'], { ...KEY, BUNTIME_MCP_TOKEN: TOKEN })).toThrow(/port/);
    expect(() => run(['--http', '1', '--allow-origin', 'not a url'], { ...KEY, BUNTIME_MCP_TOKEN: TOKEN })).toThrow(/not an origin/);
    expect(() => run(['--host', '0.0.0.0'], KEY)).toThrow(/only apply with --http/);
    expect(() => run(['--bogus'], KEY)).toThrow(/bogus/);
    expect(() => run([], { ...KEY, BUNTIME_URL: 'nope' })).toThrow(/BUNTIME_URL/);
  });

  it('answers --help with the usage, needing no key', () => {
    const c = parseCommand(['--help'], {});
    expect(c.kind).toBe('help');
    expect(c.kind === 'help' && c.text).toContain('BUNTIME_MCP_TOKEN');
  });
});
