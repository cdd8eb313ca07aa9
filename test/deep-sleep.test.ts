import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function containersOf(sessionId: string) {
  return docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
}

describe('deep sleep', () => {
  it('snapshots an unused session, removes its container, and restores it on the next request', async () => {
    const service = await ownService('sleep', { IDLE_AFTER: '1', SLEEP_AFTER: '2', WARM_POOL_SIZE: '0' });
    const snapshotDir = process.env.SNAPSHOT_DIR ?? join(process.cwd(), '.buntime', 'snapshots');
    const client = await service.client();
    try {
      const s = await client.sessions.create();
      const other = await client.sessions.create();
      await client.execute({
        sessionId: s.id,
        command: 'mkdir -p bin empty/dir && printf "#!/bin/sh\\necho ran \\$1\\n" > bin/run.sh && chmod 750 bin/run.sh'
          + ' && ln -s bin/run.sh go && head -c 100000 /dev/urandom > blob && sha256sum blob > blob.sum',
      });
      await client.spawn({ sessionId: s.id, command: 'sleep 600' });

      const deadline = Date.now() + 20_000;
      let state = '';
      while (Date.now() < deadline) {
        state = (await client.sessions.list()).sessions.find((x) => x.sessionId === s.id)?.state ?? '';
        if (state === 'deep-sleep') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(state).toBe('deep-sleep');
      expect(await containersOf(s.id)).toEqual([]);
      expect(existsSync(join(snapshotDir, `${s.id}.tar`))).toBe(true);
      // Deleting a deep-sleeping session deletes its snapshot.
      while (Date.now() < deadline && !existsSync(join(snapshotDir, `${other.id}.tar`))) await new Promise((r) => setTimeout(r, 200));
      await client.sessions.delete(other.id);
      expect(existsSync(join(snapshotDir, `${other.id}.tar`))).toBe(false);

      const r = await client.execute({
        sessionId: s.id,
        command: './go arg; stat -c "%a %u" bin/run.sh; readlink go; ls -d empty/dir; sha256sum -c blob.sum; ps -o args | grep -cx "sleep 600"',
      });
      const uid = (await client.execute({ sessionId: s.id, command: 'id -u' })).stdout.trim();
      expect(r.stdout).toBe(`ran arg\n750 ${uid}\nbin/run.sh\nempty/dir\nblob: OK\n0\n`);
      expect(await containersOf(s.id)).toHaveLength(1);
      expect((await client.sessions.get(s.id)).state).toBe('active');
      expect(existsSync(join(snapshotDir, `${s.id}.tar`))).toBe(false);
    } finally {
      for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      await service.stop();
    }
  });
});
