import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { readMounts } from '../runner/mountinfo.ts';
import { SANDBOX_IMAGE } from './support/agent-harness.ts';
import { ownService } from './support/harness.ts';
import { PrivateDockerd } from './support/private-dockerd.ts';

function host(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

async function loopsOf(image: string): Promise<string[]> {
  return [...(await host('losetup', ['--associated', image])).matchAll(/^(\/dev\/loop\d+):/gm)].map((m) => m[1]!);
}

/**
 * A host reboot, simulated on an engine of the test's own (the shared one is never restarted):
 * the runner stops, the engine stops (and its containers with it), the workspace is unmounted
 * and its loop device detached as a reboot leaves them, the engine and the runner start again.
 */
describe('a simulated reboot', () => {
  it('re-attaches the workspace image and starts the session on its files', async () => {
    const engine = await PrivateDockerd.start();
    let service: Awaited<ReturnType<typeof ownService>> | undefined;
    try {
      await engine.loadImage(SANDBOX_IMAGE);
      service = await ownService('reboot', { DOCKER_SOCKET: engine.socket, WARM_POOL_SIZE: '0' });
      const client = await service.client();
      const s = await client.sessions.create();
      await s.execute({ command: 'mkdir -p a/b && head -c 2000000 /dev/urandom > a/b/blob && sha256sum a/b/blob > sum && id -u > uid' });
      const uid = (await s.execute({ command: 'cat uid' })).stdout;

      const dir = join(loadConfig(service.env).WORKSPACE_DIR, service.nodeId);
      const image = join(dir, `${s.id}.img`);
      const mountPoint = join(dir, 'mnt', s.id);
      await service.stopRunner();
      await engine.stop();
      await host('umount', [mountPoint]);
      for (const device of await loopsOf(image)) await host('losetup', ['--detach', device]);
      expect(await loopsOf(image)).toEqual([]);
      expect((await readMounts()).some((m) => m.mountPoint === mountPoint)).toBe(false);

      await engine.restart();
      await service.restartRunner();
      const r = await s.execute({ command: 'sha256sum -c sum && cat uid && id -u' });
      expect(r.stdout).toBe(`a/b/blob: OK\n${uid}${uid}`);
      expect(await loopsOf(image)).toHaveLength(1);
      expect((await readMounts()).some((m) => m.mountPoint === mountPoint)).toBe(true);
      expect((await client.sessions.get(s.id)).state).toBe('active');
      await client.sessions.delete(s.id);
    } finally {
      await service?.stop();
      await engine.close();
    }
  }, 240_000);
});
