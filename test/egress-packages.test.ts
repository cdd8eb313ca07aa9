import type { Buntime } from '@buntime/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_GREETING, FIXTURE_PACKAGE, FIXTURE_VERSION, startEgressFixtures, type EgressFixtures } from './support/egress-fixtures.ts';
import { egressLog, fixtureHosts, waitFor } from './support/egress-checks.ts';
import { ownService } from './support/harness.ts';

/**
 * Packages in sessions: `bun add`, `bun install` and auto-install against the fixture registry,
 * named by the service's NPM_REGISTRY_URL (`http://registry.test/`, an internal host here), and
 * what they installed surviving deep sleep (Bun's install cache lives in /workspace). Sessions of
 * this service go idle after 1 s unused and to deep sleep after 4 s.
 */
let fx: EgressFixtures;
let service: Awaited<ReturnType<typeof ownService>>;
let client: Buntime;

beforeAll(async () => {
  fx = await startEgressFixtures(['fixture.test']);
  service = await ownService('pkgs', { WARM_POOL_SIZE: '0', IDLE_AFTER: '1', SLEEP_AFTER: '4', EGRESS_INTERNAL_HOSTS: fixtureHosts(fx) });
  // Paid: the tests poll states often, past the free plan's 100 requests a minute.
  client = await service.client('paid');
});
afterAll(async () => {
  for (const s of (await client?.sessions.list())?.sessions ?? []) await client.sessions.delete(s.sessionId).catch(() => {});
  await service?.stop();
  await fx?.stop();
});

const TARBALL = `/${FIXTURE_PACKAGE}/-/${FIXTURE_PACKAGE}-${FIXTURE_VERSION}.tgz`;
const IMPORT = `import { greet } from ${JSON.stringify(FIXTURE_PACKAGE)};\nconsole.log(greet());`;

async function deepSleep(sessionId: string): Promise<void> {
  await waitFor(async () => (await client.sessions.list()).sessions.find((s) => s.sessionId === sessionId)?.state === 'deep-sleep',
    30_000, 'deep sleep');
}

describe('packages through the egress proxy', () => {
  it('bun add installs into /workspace/node_modules; the package imports next time and after deep sleep', async () => {
    const { id } = await client.sessions.create();
    const add = await client.execute({ sessionId: id, command: `bun add ${FIXTURE_PACKAGE}` });
    expect(add.exitCode, add.stderr).toBe(0);
    const pkg = JSON.parse((await client.execute({ sessionId: id, command: 'cat package.json' })).stdout) as { dependencies: object };
    expect(pkg.dependencies).toEqual({ [FIXTURE_PACKAGE]: `^${FIXTURE_VERSION}` });
    expect((await client.files.list(id, { path: `node_modules/${FIXTURE_PACKAGE}` })).files.map((f) => f.path)).toContain(`node_modules/${FIXTURE_PACKAGE}/index.js`);
    expect((await client.execute({ sessionId: id, code: IMPORT })).stdout).toBe(`${FIXTURE_GREETING}\n`);
    const log = await egressLog(client, id, 2);
    expect(log.every((e) => e.host === 'registry.test' && e.decision === 'allowed' && e.reason === 'internal')).toBe(true);

    await deepSleep(id);
    const after = await client.execute({ sessionId: id, code: IMPORT });
    expect(after.stdout, after.stderr).toBe(`${FIXTURE_GREETING}\n`);
  });

  it('bun install of a package.json naming the package installs it', async () => {
    const { id } = await client.sessions.create();
    const r = await client.execute({
      sessionId: id, workingDir: 'app', command: 'bun install && bun -e "console.log(require(process.argv[1]).greet())" ' + FIXTURE_PACKAGE,
      files: [{ path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { [FIXTURE_PACKAGE]: FIXTURE_VERSION } }) }],
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${FIXTURE_GREETING}\n`);
  });

  it('auto-installs on import with no node_modules, into the workspace cache, which survives deep sleep', async () => {
    const { id } = await client.sessions.create();
    const first = await client.execute({ sessionId: id, code: IMPORT });
    expect(first.stdout, first.stderr).toBe(`${FIXTURE_GREETING}\n`);
    const cache = await client.execute({ sessionId: id, command: 'ls /workspace/.bun/install/cache; test -d /workspace/node_modules || echo no node_modules' });
    expect(cache.stdout).toContain(FIXTURE_PACKAGE);
    expect(cache.stdout).toContain('no node_modules');

    const tarballs = fx.registry.hits.get(TARBALL) ?? 0;
    expect(tarballs).toBeGreaterThan(0);
    await deepSleep(id);
    const after = await client.execute({ sessionId: id, code: IMPORT });
    expect(after.stdout, after.stderr).toBe(`${FIXTURE_GREETING}\n`);
    // Served from the restored cache: the tarball was not fetched again.
    expect(fx.registry.hits.get(TARBALL) ?? 0).toBe(tarballs);
  });

  it('a session\'s egress connections end when it is paused', async () => {
    const { id } = await client.sessions.create();
    await client.spawn({ sessionId: id, code: `const r = await fetch('http://fixture.test:${fx.http.port}/slow'); for await (const _ of r.body) {}` });
    await waitFor(() => service.egressStats().upstream === 1, 10_000, 'the slow download');
    const state = async () => (await client.sessions.list()).sessions.find((s) => s.sessionId === id)?.state;
    await waitFor(async () => (await state()) === 'idle', 15_000, 'idle');
    // Closed by the pause itself, well before the deep sleep (3 s later) would remove the container.
    await waitFor(() => service.egressStats().upstream === 0 && service.egressStats().client === 0, 1_000, 'connections closed');
    expect(await state()).toBe('idle');
    const [entry] = await egressLog(client, id, 1);
    expect(entry).toMatchObject({ method: 'GET', host: 'fixture.test', decision: 'allowed' });
    expect(entry!.bytesIn).toBeGreaterThan(0);
  });
});
