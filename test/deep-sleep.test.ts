import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { readMounts } from '../runner/mountinfo.ts';
import { ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function containersOf(sessionId: string) {
  return docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
}

async function mounted(mountPoint: string): Promise<boolean> {
  return (await readMounts()).some((m) => m.mountPoint === mountPoint);
}

describe('deep sleep', () => {
  it('removes the container and unmounts the workspace, then wakes in a new container on the same files and uid', async () => {
    const service = await ownService('sleep', { IDLE_AFTER: '1', SLEEP_AFTER: '2', WARM_POOL_SIZE: '0' });
    const workspaces = join(loadConfig(service.env).WORKSPACE_DIR, service.nodeId);
    const client = await service.client('paid');
    try {
      const s = await client.sessions.create();
      const other = await client.sessions.create();
      const mountPoint = join(workspaces, 'mnt', s.id);
      await client.execute({
        sessionId: s.id,
        command: 'mkdir -p bin empty/dir && printf "#!/bin/sh\\necho ran \\$1\\n" > bin/run.sh && chmod 750 bin/run.sh'
          + ' && ln -s bin/run.sh go && head -c 100000000 /dev/urandom > blob && sha256sum blob > blob.sum && id -u > uid',
        timeout: 60,
      });
      const sumBefore = (await client.files.readText(s.id, 'blob.sum')).trim();
      await client.spawn({ sessionId: s.id, command: 'sleep 600' });
      expect(await mounted(mountPoint)).toBe(true);

      const deadline = Date.now() + 30_000;
      let state = '';
      while (Date.now() < deadline) {
        state = (await client.sessions.list()).sessions.find((x) => x.sessionId === s.id)?.state ?? '';
        if (state === 'deep-sleep') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(state).toBe('deep-sleep');
      expect(await containersOf(s.id)).toEqual([]);
      expect(await mounted(mountPoint)).toBe(false);
      // Deleting a deep-sleeping session deletes its workspace image too.
      while (Date.now() < deadline && (await client.sessions.get(other.id).catch(() => undefined))?.state !== 'deep-sleep') {
        await new Promise((r) => setTimeout(r, 200));
      }
      await client.sessions.delete(other.id);
      await expect(import('node:fs/promises').then((fs) => fs.access(join(workspaces, `${other.id}.img`)))).rejects.toThrow();

      const woke = Date.now();
      const r = await client.execute({
        sessionId: s.id,
        command: './go arg; stat -c "%a %u" bin/run.sh; readlink go; ls -d empty/dir; sha256sum blob; ps -o args | grep -cx "sleep 600"; id -u; cat uid',
      });
      const wakeMs = Date.now() - woke;
      const uid = (await client.files.readText(s.id, 'uid')).trim();
      expect(r.stdout).toBe(`ran arg\n750 ${uid}\nbin/run.sh\nempty/dir\n${sumBefore}\n0\n${uid}\n${uid}\n`);
      expect(await containersOf(s.id)).toHaveLength(1);
      expect(await mounted(mountPoint)).toBe(true);
      expect((await client.sessions.get(s.id)).state).toBe('active');
      // Wake = mount + a new container, whatever the workspace size (bench measures it properly).
      expect(wakeMs).toBeLessThan(5_000);
    } finally {
      for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      await service.stop();
    }
  }, 120_000);
});
