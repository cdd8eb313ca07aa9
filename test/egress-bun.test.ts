import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bigBody, FIXTURE_GREETING, FIXTURE_PACKAGE, startEgressFixtures, WEBSOCKET_GREETING, type EgressFixtures,
} from './support/egress-fixtures.ts';
import { PUBLIC_POLICY, startProxyHarness, type ProxyHarness } from './support/egress-harness.ts';

/**
 * Real clients through the egress proxy, on the host: the host's Bun (the one the sandbox image
 * ships), `bun add` and auto-install against the fixture registry, and busybox wget. Targets are
 * internal-host names the proxy maps to 127.0.0.1; whenever a client is expected to bypass the
 * proxy, its target is a loopback literal, so that no DNS query ever leaves the machine.
 */
const BUN = [
  new URL('../node_modules/bun/bin/bun.exe', import.meta.url).pathname,
  new URL('../node_modules/@oven/bun-linux-x64/bin/bun', import.meta.url).pathname,
].find((p) => existsSync(p));
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));

interface Run { code: number; stdout: string; stderr: string }

function run(file: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: '/usr/bin:/bin', HOME: cwd, DO_NOT_TRACK: '1', ...env }, cwd, timeout: 60_000, maxBuffer: 32 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

describe('egress proxy with real clients (host Bun, bun add, busybox wget)', () => {
  let fx: EgressFixtures;
  let h: ProxyHarness;
  let dir: string;
  let caFile: string;
  const bun = (code: string, env: Record<string, string> = {}) => run(BUN!, ['-e', code], { BUN_INSTALL_CACHE_DIR: join(dir, 'cache'), ...env }, dir);
  const http = (path: string) => `http://fixture.test:${fx.http.port}${path}`;
  const https = (path: string) => `https://fixture.test:${fx.https.port}${path}`;
  const viaEnv = () => ({ HTTP_PROXY: h.agentUrl, HTTPS_PROXY: h.agentUrl });
  const logsSince = (n: number) => h.logs.slice(n);

  beforeAll(async () => {
    expect(BUN, 'the bun npm package must be installed').toBeDefined();
    fx = await startEgressFixtures(['fixture.test']);
    h = await startProxyHarness({
      internalHosts: [{ name: 'fixture.test', address: '127.0.0.1' }, { name: 'registry.test', address: '127.0.0.1', port: fx.registry.port }],
    });
    h.policy = { ...PUBLIC_POLICY };
    dir = await mkdtemp(join(tmpdir(), 'egress-bun-'));
    caFile = join(dir, 'fixture-ca.pem');
    await writeFile(caFile, fx.https.pem);
  });
  afterAll(async () => {
    await h?.stop();
    await fx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fetch honours HTTP_PROXY and the proxy option for http:// URLs', async () => {
    const n = h.logs.length;
    const env = await bun(`const r = await fetch(${JSON.stringify(http('/hello'))}); console.log(r.status, await r.text())`, viaEnv());
    expect(env.stdout.trim()).toBe('200 hello from fixture');
    const opt = await bun(`const r = await fetch(${JSON.stringify(http('/hello'))}, { proxy: ${JSON.stringify(h.agentUrl)} }); console.log(r.status)`);
    expect(opt.stdout.trim()).toBe('200');
    expect(logsSince(n).map((e) => [e.method, e.host, e.decision])).toEqual([['GET', 'fixture.test', 'allowed'], ['GET', 'fixture.test', 'allowed']]);
  });

  it('fetch tunnels https:// through CONNECT (HTTPS_PROXY), trusting the fixture certificate', async () => {
    const r = await bun(`const r = await fetch(${JSON.stringify(https('/hello'))}); console.log(r.status, await r.text())`, { ...viaEnv(), NODE_EXTRA_CA_CERTS: caFile });
    expect(r.stdout.trim()).toBe('200 hello from fixture');
    // A tunnel's entry is written when it closes, just after the client exits.
    await waitFor(() => h.logs.at(-1)?.method === 'CONNECT');
    expect(h.logs.at(-1)).toMatchObject({ method: 'CONNECT', host: 'fixture.test', port: fx.https.port, decision: 'allowed' });
  });

  it('fetch gets 5 MB byte-identical over http and https', async () => {
    const want = createHash('sha256').update(bigBody()).digest('hex');
    const code = (url: string) => `const b = new Uint8Array(await (await fetch(${JSON.stringify(url)})).arrayBuffer());
      console.log(b.length, new Bun.CryptoHasher('sha256').update(b).digest('hex'))`;
    const plain = await bun(code(http('/big')), viaEnv());
    const tls = await bun(code(https('/big')), { ...viaEnv(), NODE_EXTRA_CA_CERTS: caFile });
    expect(plain.stdout.trim()).toBe(`${5 * 1024 * 1024} ${want}`);
    expect(tls.stdout.trim()).toBe(`${5 * 1024 * 1024} ${want}`);
  });

  it('a refused plain request is a 403 with its reason; a refused CONNECT is a tunnel error', async () => {
    // 127.0.0.2 is loopback but not an internal host: refused by the proxy, and harmless if a
    // client ever went around it.
    const plain = await bun(`const r = await fetch('http://127.0.0.2/latest/meta-data/'); console.log(r.status, r.headers.get('x-buntime-egress'))`, viaEnv());
    expect(plain.stdout.trim()).toBe('403 address_refused');
    const tunnel = await bun(`try { await fetch('https://127.0.0.2/'); console.log('fetched') } catch (e) { console.log(e.code, e.message) }`, viaEnv());
    expect(tunnel.stdout).toMatch(/^ERR_PROXY_TUNNEL .*403/);
    await waitFor(() => h.logs.at(-1)?.method === 'CONNECT');
    expect(h.logs.slice(-2).map((e) => `${e.method} ${e.host} ${e.reason}`)).toEqual(['GET 127.0.0.2 address_refused', 'CONNECT 127.0.0.2 address_refused']);
  });

  it('bun add installs from the registry named by BUN_CONFIG_REGISTRY or NPM_CONFIG_REGISTRY through HTTP_PROXY', async () => {
    for (const variable of ['BUN_CONFIG_REGISTRY', 'NPM_CONFIG_REGISTRY']) {
      const project = await mkdtemp(join(dir, 'add-'));
      await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
      const n = h.logs.length;
      const env = { ...viaEnv(), [variable]: 'http://registry.test/', BUN_INSTALL_CACHE_DIR: join(project, '.cache') };
      const add = await run(BUN!, ['add', FIXTURE_PACKAGE], env, project);
      expect(add.code, add.stderr).toBe(0);
      expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8')).dependencies).toEqual({ [FIXTURE_PACKAGE]: '^1.0.0' });
      const use = await run(BUN!, ['-e', `console.log(require(${JSON.stringify(FIXTURE_PACKAGE)}).greet())`], {}, project);
      expect(use.stdout.trim()).toBe(FIXTURE_GREETING);
      await waitFor(() => h.logs.length >= n + 2);
      await settle();
      expect(logsSince(n).map((e) => `${e.method} ${e.host}:${e.port} ${e.reason}`)).toEqual([
        'GET registry.test:80 internal', 'GET registry.test:80 internal',
      ]);
    }
    expect(fx.registry.hits.get(`/${FIXTURE_PACKAGE}`)).toBeGreaterThanOrEqual(2);
  });

  it('auto-install (an import with no node_modules) goes through the proxy too', async () => {
    const project = await mkdtemp(join(dir, 'auto-'));
    await writeFile(join(project, 'main.ts'), `import { greet } from ${JSON.stringify(FIXTURE_PACKAGE)};\nconsole.log(greet());\n`);
    const env = { ...viaEnv(), BUN_CONFIG_REGISTRY: 'http://registry.test/', BUN_INSTALL_CACHE_DIR: join(project, '.cache') };
    const r = await run(BUN!, ['run', 'main.ts'], env, project);
    expect(r.stdout.trim(), r.stderr).toBe(FIXTURE_GREETING);
    expect(h.logs.at(-1)).toMatchObject({ host: 'registry.test', decision: 'allowed' });
  });

  it('node:http and node:https use the proxy only with NODE_USE_ENV_PROXY=1', async () => {
    const get = (mod: string, url: string) => `import m from '${mod}';
      m.get(${JSON.stringify(url)}, (res) => { let d = ''; res.on('data', (c) => d += c); res.on('end', () => console.log(res.statusCode, d.trim())); })
       .on('error', (e) => console.log('error', e.code));`;
    const n = h.logs.length;
    const withFlag = await bun(get('node:http', http('/hello')), { ...viaEnv(), NODE_USE_ENV_PROXY: '1' });
    expect(withFlag.stdout.trim()).toBe('200 hello from fixture');
    const tls = await bun(get('node:https', https('/hello')), { ...viaEnv(), NODE_USE_ENV_PROXY: '1', NODE_EXTRA_CA_CERTS: caFile });
    expect(tls.stdout.trim()).toBe('200 hello from fixture');
    await waitFor(() => h.logs.length >= n + 2);
    expect(logsSince(n).map((e) => e.method)).toEqual(['GET', 'CONNECT']);
    // Without the flag node:http ignores HTTP_PROXY and connects by itself (a loopback literal
    // here, so nothing leaves the machine): the proxy sees nothing.
    const before = fx.http.hits.get('/hello') ?? 0;
    const direct = await bun(get('node:http', `http://127.0.0.1:${fx.http.port}/hello`), viaEnv());
    expect(direct.stdout.trim()).toBe('200 hello from fixture');
    expect(fx.http.hits.get('/hello')).toBe(before + 1);
    await settle();
    expect(h.logs.length).toBe(n + 2);
  });

  it('WebSocket uses the proxy (CONNECT) only when given the proxy option', async () => {
    const ws = (url: string, opts: string) => `const ws = new WebSocket(${JSON.stringify(url)}, ${opts});
      ws.onmessage = (m) => { console.log('message', m.data); process.exit(0); };
      ws.onerror = (e) => { console.log('error', e.message); process.exit(0); };
      setTimeout(() => { console.log('timeout'); process.exit(0); }, 10000);`;
    const n = h.logs.length;
    const viaOption = await bun(ws(`ws://fixture.test:${fx.http.port}/ws`, `{ proxy: ${JSON.stringify(h.agentUrl)} }`));
    expect(viaOption.stdout.trim()).toBe(`message ${WEBSOCKET_GREETING}`);
    const wss = await bun(ws(`wss://fixture.test:${fx.https.port}/ws`, `{ proxy: ${JSON.stringify(h.agentUrl)} }`), { NODE_EXTRA_CA_CERTS: caFile });
    expect(wss.stdout.trim()).toBe(`message ${WEBSOCKET_GREETING}`);
    await waitFor(() => h.logs.length >= n + 2);
    expect(logsSince(n).map((e) => `${e.method} ${e.host}`)).toEqual(['CONNECT fixture.test', 'CONNECT fixture.test']);
    // The environment alone does not route WebSockets: this one connects directly (loopback literal).
    const envOnly = await bun(ws(`ws://127.0.0.1:${fx.http.port}/ws`, 'undefined'), viaEnv());
    expect(envOnly.stdout.trim()).toBe(`message ${WEBSOCKET_GREETING}`);
    await settle();
    expect(h.logs.length).toBe(n + 2);
  });

  it('busybox wget honours only lower-case http_proxy and sends https:// URLs without CONNECT: 400', async () => {
    expect(BUSYBOX, 'busybox must be installed (busybox-static)').toBeDefined();
    const plain = await run(BUSYBOX!, ['wget', '-q', '-O', '-', http('/hello')], { http_proxy: h.agentUrl }, dir);
    expect(plain.stdout).toBe('hello from fixture\n');
    const n = h.logs.length;
    const tls = await run(BUSYBOX!, ['wget', '-q', '-O', '-', https('/hello')], { http_proxy: h.agentUrl, https_proxy: h.agentUrl }, dir);
    expect(tls.code).not.toBe(0);
    await waitFor(() => h.logs.length >= n + 1);
    expect(h.logs.slice(n).map((e) => `${e.method} ${e.decision} ${e.reason}`)).toEqual(['GET denied https_without_connect']);
    // Upper-case HTTP_PROXY is ignored: wget goes direct (to a loopback literal here).
    const before = fx.http.hits.get('/hello') ?? 0;
    const direct = await run(BUSYBOX!, ['wget', '-q', '-O', '-', `http://127.0.0.1:${fx.http.port}/hello`], { HTTP_PROXY: h.agentUrl }, dir);
    expect(direct.stdout).toBe('hello from fixture\n');
    expect(fx.http.hits.get('/hello')).toBe(before + 1);
    await settle();
    expect(h.logs.length).toBe(n + 1);
  });
});

/** Gives entries of connections that just closed time to arrive, before counting that none did. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 300));
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
