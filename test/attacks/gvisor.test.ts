import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { ownService } from '../support/harness.ts';

/**
 * The optional hardened runtime: a node configured with SANDBOX_RUNTIME=runsc runs its sessions
 * under gVisor (the bootstrap registers runsc with the engine it starts) with the same contract.
 */
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let service: Awaited<ReturnType<typeof ownService>> | undefined;
let client: Buntime;
let sessionId: string;

beforeAll(async () => {
  const info = await docker.info();
  expect(Object.keys(info.Runtimes ?? {}), 'the engine must have the runsc runtime registered').toContain('runsc');
  service = await ownService('gvisor', { SANDBOX_RUNTIME: 'runsc', WARM_POOL_SIZE: '0' });
  client = await service.client('paid');
  sessionId = (await client.sessions.create({ resourceLimits: { memory: 256, cpu: 1, disk: 64 } })).id;
});
afterAll(async () => {
  await client?.sessions.delete(sessionId).catch(() => {});
  await service?.stop();
});

describe('gVisor runtime', () => {
  it('runs the session container under runsc', async () => {
    const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
    const info = await docker.getContainer(c!.Id).inspect();
    expect(info.HostConfig.Runtime).toBe('runsc');
    // gVisor's own kernel version string (its seccomp profile keeps dmesg's klogctl closed).
    const r = await client.execute({ sessionId, command: 'cat /proc/version' });
    expect(r.stdout).toContain('Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016');
  });

  it('keeps the contract: TypeScript, files, non-root without capabilities, no network', async () => {
    const r = await client.execute({
      sessionId,
      files: [{ path: 'lib.ts', content: 'export const twice = (n: number): number => n * 2;\n' }],
      code: `import { twice } from './lib.ts';
        const caps = (await Bun.file('/proc/self/status').text()).match(/CapEff:\\s+(\\w+)/)?.[1];
        let net = 'blocked';
        try { await fetch('http://127.0.0.1:9/', { signal: AbortSignal.timeout(2000) }); net = 'open'; } catch {}
        console.log(twice(21), process.getuid() !== 0, caps, net);`,
    });
    expect(r.stdout).toBe('42 true 0000000000000000 blocked\n');
    expect(r.filesWritten).toEqual(['lib.ts']);
  });

  it('kills a runaway program at its timeout and leaves nothing behind', async () => {
    const r = await client.execute({ sessionId, command: 'setsid sleep 300 & echo started; while :; do :; done', timeout: 2 });
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toBe('started\n');
    const ps = await client.execute({ sessionId, command: 'ps -o args | grep -cx "sleep 300"' });
    expect(ps.stdout.trim()).toBe('0');
  });

  it('watches the workspace as the session uid and pages listings there too', async () => {
    // Past a few hundred entries filesWritten comes from the change watch, not a walk.
    await client.execute({ sessionId, command: 'mkdir -p many && cd many && seq 1 600 | xargs touch' });
    await client.execute({ sessionId, command: 'true' });
    const r = await client.execute({ sessionId, command: 'echo x >> many/7; mkdir -p new/deep && echo y > new/deep/f; id -u' });
    expect(r.filesWritten).toEqual(['many/7', 'new/deep/f']);
    const watcher = await client.execute({
      sessionId, command: 'for p in /proc/[0-9]*; do grep -q "^Name:.*watcher" $p/status 2>/dev/null && grep ^Uid: $p/status | cut -f2; done',
    });
    expect(watcher.stdout.trim()).toBe(r.stdout.trim());
    const first = await client.files.list(sessionId, { path: 'many', limit: 400 });
    const rest = await client.files.list(sessionId, { path: 'many', limit: 400, cursor: first.nextCursor! });
    expect([first.total, first.files.length + rest.files.length, rest.nextCursor]).toEqual([600, 600, null]);
  });

  it('answers a fork bomb with a result within 20 s and leaves a usable session', async () => {
    // A session of the free plan's shape (0.25 CPU), so the bomb can starve the agent. On the
    // ptrace platform the bomb usually takes the sandbox down first (its host tasks reach the
    // pids limit): the program's result is then `killed`, and the next request restarts it.
    const small = (await client.sessions.create()).id;
    try {
      const t0 = Date.now();
      const r = await client.execute({
        sessionId: small, command: 'f(){ while :; do f & done; }; f & while :; do wait; done', timeout: 10,
      });
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(['timeout', 'killed']).toContain(r.status);
      expect(r.signal).toBe('SIGKILL');
      const next = await client.execute({ sessionId: small, command: 'echo alive; ps -o args | grep -v grep | grep -c "do f &"' });
      expect(next.stdout).toBe('alive\n0\n');
    } finally {
      await client.sessions.delete(small).catch(() => {});
    }
  }, 60_000);
});
