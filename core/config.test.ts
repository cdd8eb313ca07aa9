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

describe('webhook configuration', () => {
  it('parses WEBHOOK_INTERNAL_HOSTS like EGRESS_INTERNAL_HOSTS and names it in errors', () => {
    expect(loadConfig({}).WEBHOOK_INTERNAL_HOSTS).toEqual([]);
    expect(loadConfig({ WEBHOOK_INTERNAL_HOSTS: 'hooks.test=127.0.0.1:8080' }).WEBHOOK_INTERNAL_HOSTS)
      .toEqual([{ name: 'hooks.test', address: '127.0.0.1', port: 8080 }]);
    expect(() => loadConfig({ WEBHOOK_INTERNAL_HOSTS: 'nonsense' })).toThrow(/WEBHOOK_INTERNAL_HOSTS: WEBHOOK_INTERNAL_HOSTS: "nonsense"/);
  });

  it('has defaults for attempts, backoff, timeout, pending bound and concurrency', () => {
    expect(loadConfig({})).toMatchObject({
      WEBHOOK_MAX_ATTEMPTS: 11, WEBHOOK_BACKOFF_BASE_MS: 60_000, WEBHOOK_TIMEOUT_MS: 10_000, WEBHOOK_MAX_PENDING: 1000, WEBHOOK_CONCURRENCY: 8,
    });
  });
});

describe('preview and authentication settings', () => {
  it('default to path-mode previews, a 24 h admin token lifetime and 60 failures a minute', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      PREVIEW_SCHEME: 'https', PREVIEW_FIRST_BYTE_MS: 30_000, ADMIN_TOKEN_MAX_TTL: 86_400, AUTH_FAILURES_PER_MINUTE: 60, TRUST_PROXY: 0,
    });
    expect(cfg.PREVIEW_DOMAIN).toBeUndefined();
  });

  it('takes a preview domain (lowercased, optionally with a port) and a proxy count', () => {
    expect(loadConfig({ PREVIEW_DOMAIN: 'Example-Preview.NET' }).PREVIEW_DOMAIN).toBe('example-preview.net');
    expect(loadConfig({ PREVIEW_DOMAIN: 'preview.test:8443' }).PREVIEW_DOMAIN).toBe('preview.test:8443');
    expect(['true', 'false', '1', '0', '2'].map((v) => loadConfig({ TRUST_PROXY: v }).TRUST_PROXY)).toEqual([1, 0, 1, 0, 2]);
    for (const bad of ['localhost', '*.preview.test', 'https://preview.test', 'a..b', '-a.b']) {
      expect(() => loadConfig({ PREVIEW_DOMAIN: bad })).toThrow(/PREVIEW_DOMAIN/);
    }
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY/);
  });
});
