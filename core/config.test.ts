import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('egress configuration', () => {
  it('has safe defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      EGRESS_INTERNAL_HOSTS: [], EGRESS_RESOLVER: 'system', EGRESS_TEST_GUARD: false,
      EGRESS_MAX_CONNECTIONS_PER_SESSION: 64, EGRESS_MAX_CONNECTIONS_PER_NODE: 4096, EGRESS_CONNECT_TIMEOUT_MS: 10_000,
      EGRESS_DNS_TIMEOUT_MS: 5_000,
    });
    expect(cfg.NPM_REGISTRY_URL).toBeUndefined();
    expect(cfg.EGRESS_STATIC_HOSTS).toEqual([]);
  });

  it('parses the static resolver\'s names, without ports', () => {
    expect(loadConfig({ EGRESS_STATIC_HOSTS: 'private.test=10.1.2.3, v6.test=[fd00::1]' }).EGRESS_STATIC_HOSTS).toEqual([
      { name: 'private.test', address: '10.1.2.3' }, { name: 'v6.test', address: 'fd00::1' },
    ]);
    expect(() => loadConfig({ EGRESS_STATIC_HOSTS: 'a.test=10.1.2.3:80' })).toThrow(/EGRESS_STATIC_HOSTS: entries take no port/);
    expect(() => loadConfig({ EGRESS_STATIC_HOSTS: 'nonsense' })).toThrow(/EGRESS_STATIC_HOSTS: "nonsense"/);
  });

  it('parses internal hosts and the other settings', () => {
    const cfg = loadConfig({
      EGRESS_INTERNAL_HOSTS: 'mirror.internal=10.0.0.5:4873', EGRESS_RESOLVER: 'static', EGRESS_TEST_GUARD: '1',
      EGRESS_MAX_CONNECTIONS_PER_SESSION: '8', NPM_REGISTRY_URL: 'http://mirror.internal/',
    });
    expect(cfg.EGRESS_INTERNAL_HOSTS).toEqual([{ name: 'mirror.internal', address: '10.0.0.5', port: 4873 }]);
    expect([cfg.EGRESS_RESOLVER, cfg.EGRESS_TEST_GUARD, cfg.EGRESS_MAX_CONNECTIONS_PER_SESSION]).toEqual(['static', true, 8]);
  });

  it('fails at start on a malformed setting, naming it', () => {
    expect(() => loadConfig({ EGRESS_INTERNAL_HOSTS: 'nonsense' })).toThrow(/EGRESS_INTERNAL_HOSTS.*"nonsense"/);
    expect(() => loadConfig({ EGRESS_RESOLVER: 'google' })).toThrow(/EGRESS_RESOLVER/);
    expect(() => loadConfig({ NPM_REGISTRY_URL: 'not a url' })).toThrow(/NPM_REGISTRY_URL/);
  });
});
