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
