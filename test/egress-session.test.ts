import type { Buntime } from '@buntime/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressFixtures, WEBSOCKET_GREETING, type EgressFixtures } from './support/egress-fixtures.ts';
import { egressLog, expectClientsWork, expectKeepAliveJudged, fixtureHosts, waitFor } from './support/egress-checks.ts';
import { ownService } from './support/harness.ts';

/**
 * Egress from real sessions, through the API: the agent's relay on the container's loopback, the
 * data channel and the runner's policy proxy. Upstreams are the fixtures on 127.0.0.1, reached by
 * internal-host names; the service's dialer refuses anything but loopback and its resolver sends
 * no query (test/support/egress-env.ts), and refusals are checked against its dial counter.
 */
let fx: EgressFixtures;
let service: Awaited<ReturnType<typeof ownService>>;
let paid: Buntime;
let sessionId: string;

beforeAll(async () => {
  fx = await startEgressFixtures(['fixture.test']);
  service = await ownService('egress', { WARM_POOL_SIZE: '0', EGRESS_INTERNAL_HOSTS: fixtureHosts(fx) });
  paid = await service.client('paid');
  sessionId = (await paid.sessions.create()).id;
});
afterAll(async () => {
  for (const s of (await paid?.sessions.list())?.sessions ?? []) await paid.sessions.delete(s.sessionId).catch(() => {});
  await service?.stop();
  await fx?.stop();
});

const run = (code: string, id = sessionId) => paid.execute({ sessionId: id, code });

describe('egress from a session', () => {
  it('shows the plan\'s default policy as network', async () => {
    const details = await paid.sessions.get(sessionId);
    expect(details.network).toEqual({ egress: 'public', allow: [], deny: [], ports: [80, 443] });
  });

  it('fetch over http and https, a 5 MB download, node:https and busybox wget all work', async () => {
    await expectClientsWork(paid, sessionId, fx);
  });

  it('WebSocket goes through the proxy when given it as an option, as the README says', async () => {
    const r = await run(`const ws = new WebSocket('ws://fixture.test:${fx.http.port}/ws', { proxy: process.env.HTTPS_PROXY });
      ws.onmessage = (m) => { console.log(m.data); ws.close(); process.exit(0); };
      ws.onerror = (e) => { console.log('error', e.message); process.exit(0); };`);
    expect(r.stdout, r.stderr).toBe(`${WEBSOCKET_GREETING}\n`);
    expect((await egressLog(paid, sessionId, 1))[0]).toMatchObject({ method: 'CONNECT', host: 'fixture.test', decision: 'allowed' });
  });

  it('refuses private, loopback and link-local targets through the proxy without dialling', async () => {
    const apiPort = new URL(service.api.url).port;
    const redisPort = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399').port || '6379';
    const plain = [
      'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://[::1]/', 'http://127.0.0.1/',
      'http://127.0.0.1:9/', `http://127.0.0.1:${apiPort}/health`, `http://127.0.0.1:${redisPort}/`, 'http://private.test/',
    ];
    const tunnels = ['https://169.254.169.254/', 'https://10.0.0.1/', 'https://private.test/'];
    const stats = service.egressStats();
    const before = (await egressLog(paid, sessionId)).length;
    // Bun skips the proxy for NO_PROXY hosts even when given one explicitly: clear it for this run.
    const r = await paid.execute({ sessionId, env: { NO_PROXY: '', no_proxy: '' }, code: `const proxy = process.env.HTTP_PROXY;
      for (const u of ${JSON.stringify(plain)}) {
        const r = await fetch(u, { proxy });
        console.log(r.status, r.headers.get('x-buntime-egress'));
      }
      for (const u of ${JSON.stringify(tunnels)}) {
        try { await fetch(u, { proxy }); console.log('fetched'); } catch (e) { console.log(e.code); }
      }` });
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual([
      '403 address_refused', '403 address_refused', '403 address_refused', '403 address_refused',
      '403 port_not_allowed', '403 port_not_allowed', '403 port_not_allowed', '403 address_refused',
      'ERR_PROXY_TUNNEL', 'ERR_PROXY_TUNNEL', 'ERR_PROXY_TUNNEL',
    ]);
    const log = (await egressLog(paid, sessionId, before + 11)).slice(0, 11);
    expect(log.every((e) => e.decision === 'denied' && e.bytesIn === 0 && e.bytesOut === 0)).toBe(true);
    expect(log.filter((e) => e.method === 'CONNECT').map((e) => e.reason)).toEqual(Array(3).fill('address_refused'));
    expect(log.find((e) => e.host === 'private.test' && e.method === 'GET')).toMatchObject({ address: '10.20.30.40', reason: 'address_refused' });
    const after = service.egressStats();
    expect([after.dials, after.guardRefusals]).toEqual([stats.dials, stats.guardRefusals]);
  });

  it('judges each request of a keep-alive connection: a second one for a denied host is refused', async () => {
    await expectKeepAliveJudged(paid, sessionId, fx, () => service.egressStats().dials);
  });

  it('raw sockets still fail; the session\'s own server on 127.0.0.1:8080 is reached directly', async () => {
    await paid.spawn({ sessionId, code: `Bun.serve({ hostname: '127.0.0.1', port: 8080, fetch: () => new Response('direct') })` });
    const before = (await egressLog(paid, sessionId)).length;
    // 192.0.2.1 (TEST-NET-1) is a documentation address, never routed: the sandbox has no route at all.
    const r = await run(`import dgram from 'node:dgram';
      const ifaces = (await Bun.file('/proc/net/dev').text()).split('\\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);
      let tcp = 'connected';
      try { await Bun.connect({ hostname: '192.0.2.1', port: 80, socket: { data() {} } }); } catch (e) { tcp = e.code ?? e.message; }
      const udp = await new Promise((resolve) => {
        const sock = dgram.createSocket('udp4');
        sock.send('x', 53, '192.0.2.1', (err) => { sock.close(); resolve(err ? err.code : 'sent'); });
      });
      let local = '';
      for (let i = 0; i < 50 && !local; i++) { try { local = await (await fetch('http://127.0.0.1:8080/')).text(); } catch { await Bun.sleep(100); } }
      const named = await (await fetch('http://localhost:8080/')).text();
      console.log(ifaces.join(','), tcp, udp, local, named);`);
    // No interface but loopback: the connect fails at once (Bun reports ENETUNREACH as ECONNREFUSED).
    expect(r.stdout, r.stderr).toMatch(/^lo (ENETUNREACH|ECONNREFUSED) ENETUNREACH direct direct\n$/);
    await new Promise((res) => setTimeout(res, 300));
    expect((await egressLog(paid, sessionId)).length).toBe(before);
    await paid.processes.kill(sessionId);
  });
});

describe('policies', () => {
  it('egress "none": every attempt fails fast, nothing dialled', async () => {
    const s = await paid.sessions.create({ network: { egress: 'none' } });
    expect(s.network.egress).toBe('none');
    const stats = service.egressStats();
    const r = await run(`const t0 = performance.now();
      const out = [];
      const plain = await fetch('http://fixture.test:${fx.http.port}/hello');
      out.push(plain.status + ' ' + plain.headers.get('x-buntime-egress'));
      try { await fetch('https://fixture.test:${fx.https.port}/hello'); out.push('fetched'); } catch (e) { out.push(e.code); }
      const wget = Bun.spawnSync(['wget', '-q', '-O', '-', 'http://fixture.test:${fx.http.port}/hello']);
      out.push('wget ' + wget.exitCode);
      console.log(out.join(' '), Math.round(performance.now() - t0) < 1000);`, s.id);
    expect(r.stdout, r.stderr).toBe('403 egress_none ERR_PROXY_TUNNEL wget 1 true\n');
    expect(service.egressStats().dials).toBe(stats.dials);
    const log = await egressLog(paid, s.id, 3);
    expect(log.map((e) => e.reason)).toEqual(Array(3).fill('egress_none'));
  });

  it('allowlist: a listed host works, another internal host is denied', async () => {
    const s = await paid.sessions.create({ network: { egress: 'allowlist', allow: ['fixture.test'], deny: ['*.bad.example'] } });
    expect(s.network).toEqual({ egress: 'allowlist', allow: ['fixture.test'], deny: ['*.bad.example'], ports: [80, 443] });
    const r = await run(`for (const host of ['fixture.test', 'other.test']) {
        const res = await fetch('http://' + host + ':${fx.http.port}/hello');
        console.log(host, res.status, res.headers.get('x-buntime-egress'));
      }`, s.id);
    expect(r.stdout, r.stderr).toBe('fixture.test 200 null\nother.test 403 not_allowlisted\n');
    expect((await paid.sessions.get(s.id)).network.egress).toBe('allowlist');
    expect((await paid.sessions.list()).sessions.find((x) => x.sessionId === s.id)?.network.allow).toEqual(['fixture.test']);
  });

  it('a free plan may narrow to none but not set a custom policy (403); bad entries are 400 naming the field', async () => {
    const free = await service.client('free');
    await expect(free.sessions.create({ network: { egress: 'allowlist', allow: ['fixture.test'] } })).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    const none = await free.sessions.create({ network: { egress: 'none' } });
    expect(none.network.egress).toBe('none');
    await free.sessions.delete(none.id);
    await expect(paid.sessions.create({ network: { egress: 'allowlist', allow: ['ok.example', 'a.*.example'] } }))
      .rejects.toMatchObject({ status: 400, code: 'invalid_request', details: { field: 'network.allow.1' } });
    await expect(paid.sessions.create({ network: { egress: 'public', allow: ['ok.example'] } }))
      .rejects.toMatchObject({ status: 400, details: { field: 'network.allow' } });
    await expect(paid.sessions.create({ network: { egress: 'anything' } as never }))
      .rejects.toMatchObject({ status: 400, details: { field: 'network.egress' } });
  });
});

describe('limits', () => {
  it('refuses the 65th parallel connection at once; other sessions stay responsive; bytes reach the log and usage', async () => {
    const other = (await paid.sessions.create()).id;
    await run('console.log(1)', other);
    const target = `fixture.test:${fx.http.port}`;
    const usageBefore = await egressBytesToday(paid);
    const logBefore = (await egressLog(paid, sessionId)).length;
    // 64 tunnels, one request through each, then the 65th; all held until the test has looked.
    const held = run(`import net from 'node:net';
      const target = ${JSON.stringify(target)};
      const open = () => new Promise((resolve) => {
        const s = net.connect(3128, '127.0.0.1');
        let buf = '';
        const onData = (c) => {
          buf += c;
          const end = buf.indexOf('\\r\\n\\r\\n');
          if (end >= 0) { s.off('data', onData); resolve({ s, head: buf.slice(0, end) }); }
        };
        s.on('data', onData);
        s.on('error', (e) => resolve({ s, head: 'error ' + e.code }));
        s.write('CONNECT ' + target + ' HTTP/1.1\\r\\nHost: ' + target + '\\r\\n\\r\\n');
      });
      const tunnels = await Promise.all(Array.from({ length: 64 }, open));
      const ok = tunnels.filter((t) => t.head.startsWith('HTTP/1.1 200')).length;
      await Promise.all(tunnels.map((t) => new Promise((resolve) => {
        let body = '';
        t.s.on('data', (c) => { body += c; if (body.includes('hello from fixture')) resolve(); });
        t.s.write('GET /hello HTTP/1.1\\r\\nHost: ' + target + '\\r\\n\\r\\n');
      })));
      const t0 = performance.now();
      const over = await open();
      const ms = Math.round(performance.now() - t0);
      await Bun.write('/workspace/holding', '1');
      for (let i = 0; i < 100 && await Bun.file('/workspace/holding').exists(); i++) await Bun.sleep(100);
      for (const t of tunnels) t.s.destroy();
      over.s.destroy();
      console.log(ok, over.head.split('\\r\\n')[0], /x-buntime-egress: (\\S+)/i.exec(over.head)?.[1], ms < 1000);`);
    await waitFor(async () => (await paid.files.list(sessionId)).files.some((f) => f.path === 'holding'), 30_000, 'the tunnels');
    expect(service.egressStats().upstream).toBe(64);
    const t0 = Date.now();
    expect((await run('console.log(1)', other)).stdout).toBe('1\n');
    expect(Date.now() - t0).toBeLessThan(1000);
    await paid.files.delete(sessionId, 'holding');
    const r = await held;
    expect(r.stdout, r.stderr).toBe('64 HTTP/1.1 503 Service Unavailable connection_limit true\n');

    const log = (await egressLog(paid, sessionId, logBefore + 65)).slice(0, 65);
    expect(log.filter((e) => e.decision === 'denied').map((e) => e.reason)).toEqual(['connection_limit']);
    const allowed = log.filter((e) => e.decision === 'allowed');
    expect(allowed).toHaveLength(64);
    expect(allowed.every((e) => e.method === 'CONNECT' && e.bytesIn > 0 && e.bytesOut > 0)).toBe(true);
    const bytes = allowed.reduce((n, e) => n + e.bytesIn + e.bytesOut, 0);
    expect(await egressBytesToday(paid)).toBe(usageBefore + bytes);
  });
});

/** Today's `egressBytes` in the account's usage report (0 when the day has no activity yet). */
async function egressBytesToday(client: Buntime): Promise<number> {
  const report = await client.usage() as { days: Array<{ date: string; egressBytes: number }> };
  return report.days.find((d) => d.date === new Date().toISOString().slice(0, 10))?.egressBytes ?? 0;
}
