import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function containerOf(sessionId: string): Promise<string> {
  const [c] = await docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
  if (!c) throw new Error(`no container for ${sessionId}`);
  return c.Id;
}

function host(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

/** The workspace outlives its container: every way a container can die leaves the files. */
describe('a workspace outlives its container', () => {
  it('keeps the files through docker kill, docker rm -f, an agent crash and a runner restart with the container killed', async () => {
    const service = await ownService('survive', { WARM_POOL_SIZE: '0' });
    const client = await service.client();
    try {
      const s = await client.sessions.create();
      await client.files.write(s.id, 'note.txt', 'written before');
      await s.execute({ command: 'head -c 3000000 /dev/urandom > blob && sha256sum blob > blob.sum' });
      const check = async () => (await s.execute({ command: 'cat note.txt; echo; sha256sum -c blob.sum' })).stdout;
      const expected = 'written before\nblob: OK\n';

      let id = await containerOf(s.id);
      await docker.getContainer(id).kill();
      expect(await check()).toBe(expected);
      expect(await containerOf(s.id)).not.toBe(id);

      id = await containerOf(s.id);
      await docker.getContainer(id).remove({ force: true });
      expect(await check()).toBe(expected);
      expect(await containerOf(s.id)).not.toBe(id);

      // The agent crashes: tini ends and the container with it.
      id = await containerOf(s.id);
      // (The agent is the one child of the container's init; the exec dies with the container.)
      await host('docker', ['exec', id, '/bin/sh', '-c', 'kill -9 $(cat /proc/1/task/1/children)']).catch(() => undefined);
      for (let i = 0; i < 100 && (await docker.getContainer(id).inspect()).State.Running; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await docker.getContainer(id).inspect()).State.Running).toBe(false);
      expect(await check()).toBe(expected);
      expect(await containerOf(s.id)).not.toBe(id);

      await service.stopRunner();
      id = await containerOf(s.id);
      await docker.getContainer(id).kill();
      await service.restartRunner();
      expect(await check()).toBe(expected);
      expect((await client.sessions.get(s.id)).state).toBe('active');
    } finally {
      await service.stop();
    }
  }, 120_000);

  it('reports a session whose workspace is really gone as lost, and still deletes it', async () => {
    const service = await ownService('lost', { WARM_POOL_SIZE: '0' });
    const client = await service.client();
    try {
      const s = await client.sessions.create();
      await s.execute({ command: 'echo doomed > f' });
      const dir = join(loadConfig(service.env).WORKSPACE_DIR, service.nodeId);
      const image = join(dir, `${s.id}.img`);
      // The host loses the image (a disk replaced, a hand-made mistake): container, mount, loop device, file.
      await docker.getContainer(await containerOf(s.id)).remove({ force: true });
      await host('umount', [join(dir, 'mnt', s.id)]);
      for (const line of (await host('losetup', ['--associated', image])).split('\n')) {
        const device = /^(\/dev\/loop\d+):/.exec(line)?.[1];
        if (device) await host('losetup', ['--detach', device]);
      }
      await rm(image);

      await expect(s.execute({ command: 'cat f' })).rejects.toMatchObject({
        status: 410, code: 'session_lost', details: { lostReason: 'workspace_missing' },
      });
      expect(await client.sessions.get(s.id)).toMatchObject({ state: 'lost', lostReason: 'workspace_missing' });
      expect((await client.sessions.list()).sessions[0]).toMatchObject({ sessionId: s.id, state: 'lost', lostReason: 'workspace_missing' });
      await expect(client.files.readText(s.id, 'f')).rejects.toMatchObject({ status: 410, code: 'session_lost' });
      expect(await client.sessions.delete(s.id)).toEqual({ deleted: true, sessionId: s.id });
      await expect(client.sessions.get(s.id)).rejects.toMatchObject({ status: 404 });
    } finally {
      await service.stop();
    }
  }, 120_000);
});
