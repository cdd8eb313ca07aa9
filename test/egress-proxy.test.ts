import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigBody, startEgressFixtures, type EgressFixtures } from './support/egress-fixtures.ts';
import { PUBLIC_POLICY, startProxyHarness, TableResolver, type ProxyHarness } from './support/egress-harness.ts';
import { httpsOverTunnel, proxiedRequest, proxyConnect, rawExchange, readAll } from './support/proxy-clients.ts';

/**
 * The egress proxy without containers: Node clients talk to a stand-in agent listener on
 * 127.0.0.1 whose connections reach `proxy.serve()` through a unix-socket data channel. Only
 * loopback is ever dialled; the dialer's test guard refuses (and counts) anything else, and the
 * tests of refusals check that nothing at all was dialled.
 */
describe('egress proxy (Node clients)', () => {
  let fx: EgressFixtures;
  let h: ProxyHarness;
  const resolver = new TableResolver({
    'evil.test': ['10.0.0.1'],
    'rebind.test': ['93.184.216.34', '127.0.0.1'],
    'meta.test': ['169.254.169.254'],
    'mapped.test': ['::ffff:10.0.0.1'],
  });
  const http = (path: string) => `http://fixture.test:${fx.http.port}${path}`;
  // The fixture's port is allowed too, so that 127.0.0.1 on it is refused for its address.
  let base = PUBLIC_POLICY;

  beforeAll(async () => {
    fx = await startEgressFixtures(['fixture.test']);
    h = await startProxyHarness({
      internalHosts: [{ name: 'fixture.test', address: '127.0.0.1' }, { name: 'private-mirror.test', address: '10.9.9.9', port: 4873 }],
      resolver,
    });
    base = { ...PUBLIC_POLICY, ports: [80, 443, fx.http.port] };
    h.policy = base;
  });
  afterAll(async () => {
    await h?.stop();
    await fx?.stop();
  });

  /** Runs `fn` and asserts that it dialled nothing at all (no connect, no guard refusal). */
  async function noDial<T>(fn: () => Promise<T>): Promise<T> {
    const before = { ...h.dialer.stats };
    const out = await fn();
    expect(h.dialer.stats).toEqual(before);
    return out;
  }

  it('relays a plain-HTTP request to an internal host and logs it', async () => {
    const r = await proxiedRequest(h.agentUrl, http('/hello'));
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello from fixture\n');
    const entry = h.logs.at(-1)!;
    expect(entry).toMatchObject({ method: 'GET', host: 'fixture.test', port: fx.http.port, address: '127.0.0.1', decision: 'allowed', reason: 'internal' });
    expect(entry.bytesIn).toBeGreaterThan(19);
    expect(entry.bytesOut).toBeGreaterThan(0);
    expect(entry.durationMs).toBeGreaterThanOrEqual(0);
    expect(Number.isNaN(Date.parse(entry.at))).toBe(false);
  });

  it('streams a 5 MB body byte-identical and counts its bytes', async () => {
    const r = await proxiedRequest(h.agentUrl, http('/big'));
    expect(r.body.length).toBe(5 * 1024 * 1024);
    expect(sha256(r.body)).toBe(sha256(bigBody()));
    expect(h.logs.at(-1)!.bytesIn).toBeGreaterThan(5 * 1024 * 1024);
  });

  it('relays request bodies and strips hop-by-hop and Proxy-* headers', async () => {
    const body = Buffer.alloc(300_000, 7);
    const r = await proxiedRequest(h.agentUrl, http('/echo'), {
      method: 'POST', body,
      headers: { 'proxy-authorization': 'Basic c2VjcmV0', 'proxy-connection': 'keep-alive', connection: 'keep-alive, x-drop', 'x-drop': '1', 'x-keep': '2' },
    });
    const seen = JSON.parse(r.body.toString()) as { method: string; url: string; headers: Record<string, string>; bodyBytes: number; bodySha256: string };
    expect(seen).toMatchObject({ method: 'POST', url: '/echo', bodyBytes: body.length, bodySha256: sha256(body) });
    expect(seen.headers['x-keep']).toBe('2');
    for (const gone of ['proxy-authorization', 'proxy-connection', 'x-drop']) expect(seen.headers[gone]).toBeUndefined();
    expect(seen.headers.host).toBe(`fixture.test:${fx.http.port}`);
  });

  it('tunnels HTTPS through CONNECT without touching TLS', async () => {
    const t = await proxyConnect(h.agentUrl, `fixture.test:${fx.https.port}`);
    expect(t.status).toBe(200);
    const text = await httpsOverTunnel(t.socket, 'fixture.test', fx.https.pem, '/hello');
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('hello from fixture');
    await waitFor(() => h.logs.at(-1)?.method === 'CONNECT');
    expect(h.logs.at(-1)).toMatchObject({ method: 'CONNECT', host: 'fixture.test', decision: 'allowed', address: '127.0.0.1' });
    expect(h.logs.at(-1)!.bytesIn).toBeGreaterThan(500);
  });

  it('judges every request of a keep-alive connection on its own', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await proxiedRequest(h.agentUrl, http('/hello'), { agent });
      const second = await proxiedRequest(h.agentUrl, 'http://evil.test/', { agent });
      const third = await proxiedRequest(h.agentUrl, http('/hello'), { agent });
      expect([first.status, second.status, third.status]).toEqual([200, 403, 200]);
      expect(second.reusedSocket && third.reusedSocket).toBe(true);
      expect(second.headers['x-buntime-egress']).toBe('address_refused');
      expect(second.body.toString()).toMatch(/^address_refused: evil\.test resolves to 10\.0\.0\.1/);
    } finally {
      agent.destroy();
    }
  });

  it('answers pipelined requests in order, each judged on its own', async () => {
    const req = (url: string, host: string) => `GET ${url} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const fixtureHost = `fixture.test:${fx.http.port}`;
    const text = await rawExchange(h.agentUrl,
      req(http('/hello'), fixtureHost) + req('http://meta.test/latest/', 'meta.test') +
      req(http('/hello'), fixtureHost) + `GET ${http('/hello')} HTTP/1.1\r\nHost: ${fixtureHost}\r\nConnection: close\r\n\r\n`);
    const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 403, 200, 200]);
  });

  it('refuses a Host header that differs from the URL authority', async () => {
    const r = await noDial(() => proxiedRequest(h.agentUrl, http('/hello'), { headers: { host: 'other.test' } }));
    expect(r.status).toBe(403);
    expect(r.headers['x-buntime-egress']).toBe('host_mismatch');
    const c = await noDial(() => proxyConnect(h.agentUrl, `fixture.test:${fx.https.port}`, `evil.test:${fx.https.port}`));
    expect(c.status).toBe(403);
    c.socket.destroy();
  });

  it.each([
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/', '169.254.169.254:443'],
    ['10.0.0.1', 'http://10.0.0.1/', '10.0.0.1:443'],
    ['[::1]', 'http://[::1]/', '[::1]:443'],
    ['127.0.0.1 on a non-internal port', 'http://127.0.0.1:PORT/hello', '127.0.0.1:PORT'],
    ['a name resolving to a private address', 'http://evil.test/', 'evil.test:443'],
    ['a name resolving to a public and a loopback address', 'http://rebind.test/', 'rebind.test:443'],
    ['a name resolving to the metadata address', 'http://meta.test/', 'meta.test:443'],
    ['a name resolving to ::ffff:10.0.0.1', 'http://mapped.test/', 'mapped.test:443'],
    ['::ffff:10.0.0.1', 'http://[::ffff:10.0.0.1]/', '[::ffff:10.0.0.1]:443'],
    ['64:ff9b::a00:1', 'http://[64:ff9b::a00:1]/', '[64:ff9b::a00:1]:443'],
    ['a decimal spelling of 169.254.169.254', 'http://2852039166/', '2852039166:443'],
  ])('refuses %s (plain and CONNECT) with 403, dialling nothing', async (_what, url, authority) => {
    const u = url.replace('PORT', String(fx.http.port));
    const a = authority.replace('PORT', String(fx.http.port));
    const plain = await noDial(() => proxiedRequest(h.agentUrl, u));
    expect(plain.status).toBe(403);
    expect(plain.headers['x-buntime-egress']).toBe('address_refused');
    expect(plain.headers['content-type']).toMatch(/^text\/plain/);
    expect(h.logs.at(-1)).toMatchObject({ decision: 'denied', reason: 'address_refused', bytesIn: 0, bytesOut: 0 });
    const tunnel = await noDial(() => proxyConnect(h.agentUrl, a));
    expect(tunnel.status).toBe(403);
    expect((await readAll(tunnel.socket)).toString()).toMatch(/^address_refused: /);
  });

  it('dials an internal host at its private address (the guard stops it here: only loopback)', async () => {
    const before = h.dialer.stats.guardRefusals;
    const r = await proxiedRequest(h.agentUrl, 'http://private-mirror.test/');
    expect(r.status).toBe(403);
    expect(h.dialer.stats.guardRefusals).toBe(before + 1);
  });

  it('answers 400 to https:// without CONNECT and to non-absolute targets', async () => {
    const https = await noDial(() => proxiedRequest(h.agentUrl, `https://fixture.test:${fx.https.port}/hello`));
    expect(https.status).toBe(400);
    expect(https.body.toString()).toMatch(/^https_without_connect: .*CONNECT/);
    const text = await noDial(() => rawExchange(h.agentUrl, 'GET /hello HTTP/1.1\r\nHost: fixture.test\r\n\r\n'));
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('not_absolute: ');
    const garbage = await noDial(() => rawExchange(h.agentUrl, 'NONSENSE\r\n\r\n'));
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
  });

  it('reports unknown names and closed ports', async () => {
    const r = await noDial(() => proxiedRequest(h.agentUrl, 'http://nowhere.test/'));
    expect(r.status).toBe(502);
    expect(r.headers['x-buntime-egress']).toBe('dns_not_found');
    const closed = await proxiedRequest(h.agentUrl, 'http://fixture.test:1/');
    expect(closed.status).toBe(502);
    expect(h.logs.at(-1)).toMatchObject({ decision: 'allowed', reason: 'connect_failed' });
  });

  it('applies none, allowlist, deny and port policies per request', async () => {
    try {
      h.policy = { ...base, egress: 'none' };
      expect((await noDial(() => proxiedRequest(h.agentUrl, http('/hello')))).headers['x-buntime-egress']).toBe('egress_none');
      h.policy = { ...base, egress: 'allowlist', allow: ['*.test'] };
      expect((await proxiedRequest(h.agentUrl, http('/hello'))).status).toBe(200);
      h.policy = { ...base, egress: 'allowlist', allow: ['other.test'] };
      expect((await noDial(() => proxiedRequest(h.agentUrl, http('/hello')))).headers['x-buntime-egress']).toBe('not_allowlisted');
      h.policy = { ...base, deny: ['fixture.test'] };
      expect((await noDial(() => proxiedRequest(h.agentUrl, http('/hello')))).headers['x-buntime-egress']).toBe('denied_by_policy');
      h.policy = base;
      expect((await noDial(() => proxiedRequest(h.agentUrl, 'http://evil.test:22/'))).headers['x-buntime-egress']).toBe('port_not_allowed');
    } finally {
      h.policy = base;
    }
  });

  it('closes a tunnel when its client ends, even though the upstream stays open (a WebSocket)', async () => {
    const t = await proxyConnect(h.agentUrl, `fixture.test:${fx.http.port}`);
    expect(t.status).toBe(200);
    const greeting = new Promise<string>((r) => t.socket.on('data', (c: Buffer) => { if (c.includes('hello over websocket')) r('ok'); }));
    t.socket.write('GET /ws HTTP/1.1\r\nHost: fixture.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    t.socket.resume();
    expect(await greeting).toBe('ok');
    const logged = h.logs.length;
    t.socket.end();
    await waitFor(() => h.proxy.connections(h.sessionId).upstream === 0 && h.proxy.connections(h.sessionId).client === 0);
    await waitFor(() => h.logs.length === logged + 1);
    expect(h.logs.at(-1)).toMatchObject({ method: 'CONNECT', host: 'fixture.test', decision: 'allowed' });
  });

  it('closes every connection of a session on request', async () => {
    const t = await proxyConnect(h.agentUrl, `fixture.test:${fx.http.port}`);
    expect(t.status).toBe(200);
    await waitFor(() => h.proxy.connections(h.sessionId).upstream === 1);
    const closed = new Promise((r) => t.socket.once('close', r));
    t.socket.resume();
    h.proxy.closeSession(h.sessionId);
    await closed;
    await waitFor(() => h.proxy.connections(h.sessionId).upstream === 0 && h.proxy.connections(h.sessionId).client === 0);
  });
});

describe('egress proxy connection caps', () => {
  let fx: EgressFixtures;
  let h: ProxyHarness;

  beforeAll(async () => {
    fx = await startEgressFixtures(['fixture.test']);
    h = await startProxyHarness({ internalHosts: [{ name: 'fixture.test', address: '127.0.0.1' }], maxConnectionsPerSession: 64 });
  });
  afterAll(async () => {
    await h?.stop();
    await fx?.stop();
  });

  it('refuses the 65th concurrent upstream connection of a session at once with 503 connection_limit', async () => {
    const tunnels = await Promise.all(Array.from({ length: 64 }, () => proxyConnect(h.agentUrl, `fixture.test:${fx.http.port}`)));
    try {
      expect(tunnels.map((t) => t.status)).toEqual(Array(64).fill(200));
      expect(h.proxy.connections(h.sessionId).upstream).toBe(64);
      const started = Date.now();
      const over = await proxyConnect(h.agentUrl, `fixture.test:${fx.http.port}`);
      expect(over.status).toBe(503);
      expect((await readAll(over.socket)).toString()).toMatch(/^connection_limit: /);
      expect(Date.now() - started).toBeLessThan(2000);
      const plain = await proxiedRequest(h.agentUrl, `http://fixture.test:${fx.http.port}/hello`);
      expect(plain.status).toBe(503);
      expect(plain.headers['x-buntime-egress']).toBe('connection_limit');
      expect(fx.http.connections()).toBe(64);
    } finally {
      for (const t of tunnels) t.socket.destroy();
    }
    await waitFor(() => h.proxy.connections(h.sessionId).upstream === 0);
    expect((await proxiedRequest(h.agentUrl, `http://fixture.test:${fx.http.port}/hello`)).status).toBe(200);
  });

  it('frees the slot of a slow plain-HTTP response when its client goes away', async () => {
    const socket = connect(Number(new URL(h.agentUrl).port), '127.0.0.1');
    const url = `http://fixture.test:${fx.http.port}/slow`;
    const firstTick = new Promise<string>((r) => socket.once('data', (c: Buffer) => r(c.toString())));
    socket.write(`GET ${url} HTTP/1.1\r\nHost: fixture.test:${fx.http.port}\r\n\r\n`);
    expect(await firstTick).toContain('tick');
    expect(h.proxy.connections(h.sessionId).upstream).toBe(1);
    socket.destroy();
    await waitFor(() => h.proxy.connections().upstream === 0);
    await waitFor(() => h.logs.at(-1)?.host === 'fixture.test');
    expect(h.logs.at(-1)!.bytesIn).toBeGreaterThan(0);
  });
});

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
