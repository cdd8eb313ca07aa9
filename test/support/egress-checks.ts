import { createHash } from 'node:crypto';
import type { Buntime, EgressConnection } from '@buntime/sdk';
import { expect } from 'vitest';
import { bigBody, type EgressFixtures } from './egress-fixtures.ts';

/**
 * Checks shared by the egress tests of several runtimes. Targets are internal-host names of a
 * service started with {@link fixtureHosts}; they all lead to the fixtures on 127.0.0.1.
 */

/** `EGRESS_INTERNAL_HOSTS` for the fixtures: `fixture.test` and `other.test` (any port), the registry. */
export function fixtureHosts(fx: EgressFixtures): string {
  return `fixture.test=127.0.0.1,other.test=127.0.0.1,registry.test=127.0.0.1:${fx.registry.port}`;
}

/** Where a session keeps the fixture's certificate (trusted with `NODE_EXTRA_CA_CERTS`). */
export const CA_PATH = '/workspace/fixture-ca.pem';

/** Polls `cond` every 100 ms until it holds, or fails after `ms`. */
export async function waitFor(cond: () => Promise<boolean> | boolean, ms = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The session's egress log, waiting until it holds at least `atLeast` entries (tunnels log when they close). */
export async function egressLog(client: Buntime, sessionId: string, atLeast = 0): Promise<EgressConnection[]> {
  let entries: EgressConnection[] = [];
  await waitFor(async () => {
    entries = (await client.sessions.egress(sessionId, { limit: 1000 })).connections;
    return entries.length >= atLeast;
  }, 10_000, `${atLeast} egress log entries`);
  return entries;
}

/**
 * Acceptance 1: from `code`, fetch over HTTP and HTTPS (CONNECT, the fixture's certificate
 * trusted), a 5 MB download byte-identical, `node:https` with the environment's proxy; busybox
 * wget of an http:// URL from a `command`. Every one appears in the session's egress log.
 */
export async function expectClientsWork(client: Buntime, sessionId: string, fx: EgressFixtures): Promise<void> {
  const http = (path: string) => `http://fixture.test:${fx.http.port}${path}`;
  const https = (path: string) => `https://fixture.test:${fx.https.port}${path}`;
  await client.files.write(sessionId, CA_PATH, fx.https.pem);
  const env = { NODE_EXTRA_CA_CERTS: CA_PATH };
  const before = (await egressLog(client, sessionId)).length;

  const plain = await client.execute({ sessionId, code: `const r = await fetch(${JSON.stringify(http('/hello'))}); console.log(r.status, (await r.text()).trim())` });
  expect(plain.stdout, plain.stderr).toBe('200 hello from fixture\n');
  const tls = await client.execute({ sessionId, env, code: `const r = await fetch(${JSON.stringify(https('/hello'))}); console.log(r.status, (await r.text()).trim())` });
  expect(tls.stdout, tls.stderr).toBe('200 hello from fixture\n');

  const want = createHash('sha256').update(bigBody()).digest('hex');
  const big = (url: string) => `const b = new Uint8Array(await (await fetch(${JSON.stringify(url)})).arrayBuffer());
    console.log(b.length, new Bun.CryptoHasher('sha256').update(b).digest('hex'))`;
  const bigPlain = await client.execute({ sessionId, code: big(http('/big')) });
  expect(bigPlain.stdout, bigPlain.stderr).toBe(`${5 * 1024 * 1024} ${want}\n`);
  const bigTls = await client.execute({ sessionId, env, code: big(https('/big')) });
  expect(bigTls.stdout, bigTls.stderr).toBe(`${5 * 1024 * 1024} ${want}\n`);

  const nodeHttps = await client.execute({ sessionId, env, code: `import https from 'node:https';
    https.get(${JSON.stringify(https('/hello'))}, (res) => { let d = ''; res.on('data', (c) => d += c); res.on('end', () => console.log(res.statusCode, d.trim())); })
      .on('error', (e) => console.log('error', e.code, e.message));` });
  expect(nodeHttps.stdout, nodeHttps.stderr).toBe('200 hello from fixture\n');

  const wget = await client.execute({ sessionId, command: `wget -q -O - ${http('/hello')}` });
  expect(wget.stdout, wget.stderr).toBe('hello from fixture\n');

  // Tunnels are logged when they close, so entries of neighbouring runs may swap: compare sorted.
  const log = await egressLog(client, sessionId, before + 6);
  const mine = log.slice(0, log.length - before);
  expect(mine.map((e) => `${e.method} ${e.host} ${e.decision} ${e.reason}`).sort()).toEqual([
    ...Array(3).fill('CONNECT fixture.test allowed internal'), ...Array(3).fill('GET fixture.test allowed internal'),
  ]);
  expect(mine.filter((e) => e.bytesIn > 5 * 1024 * 1024)).toHaveLength(2);
  expect(mine.every((e) => e.address === '127.0.0.1' && e.bytesOut > 0)).toBe(true);
}

/**
 * Acceptance 7: one keep-alive connection to the session's proxy carries an allowed request, one
 * for a host the policy refuses (`private.test`, a private address), then an allowed one again:
 * only the second is refused, and only the allowed ones are dialled.
 */
export async function expectKeepAliveJudged(client: Buntime, sessionId: string, fx: EgressFixtures, dials: () => number): Promise<void> {
  const before = dials();
  const r = await client.execute({ sessionId, code: `import net from 'node:net';
    const s = net.connect(3128, '127.0.0.1');
    // One whole response: by Content-Length, or chunked up to its last chunk.
    const complete = (buf) => {
      const end = buf.indexOf('\\r\\n\\r\\n');
      if (end < 0) return false;
      const len = /content-length: (\\d+)/i.exec(buf.slice(0, end));
      return len ? buf.length >= end + 4 + Number(len[1]) : buf.endsWith('0\\r\\n\\r\\n');
    };
    const ask = (url, host) => new Promise((resolve) => {
      let buf = '';
      const onData = (c) => {
        buf += c;
        if (complete(buf)) { s.off('data', onData); resolve(buf.split('\\r\\n')[0] + ' ' + (/x-buntime-egress: (\\S+)/i.exec(buf)?.[1] ?? '-')); }
      };
      s.on('data', onData);
      s.write('GET ' + url + ' HTTP/1.1\\r\\nHost: ' + host + '\\r\\n\\r\\n');
    });
    const fixture = 'fixture.test:${fx.http.port}';
    console.log(await ask('http://' + fixture + '/hello', fixture));
    console.log(await ask('http://private.test/', 'private.test'));
    console.log(await ask('http://' + fixture + '/hello', fixture));
    s.destroy();` });
  expect(r.stdout, r.stderr).toBe('HTTP/1.1 200 OK -\nHTTP/1.1 403 Forbidden address_refused\nHTTP/1.1 200 OK -\n');
  expect(dials() - before).toBe(2);
}
