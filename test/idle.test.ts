import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function paused(sessionId: string): Promise<boolean> {
  const [c] = await docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
  return (await docker.getContainer(c!.Id).inspect()).State.Paused;
}

async function untilPaused(sessionId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await paused(sessionId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
}

describe('idle sessions', () => {
  it('pauses a session nobody uses and wakes it on the next request', async () => {
    const service = await ownService('idle', { IDLE_AFTER: '1', WARM_POOL_SIZE: '0' });
    const client = await service.client();
    try {
      const s = await client.sessions.create();
      // A background ticker: frozen while the session is idle, running again once it wakes.
      await client.spawn({ sessionId: s.id, command: 'i=0; while :; do i=$((i+1)); echo $i > tick; sleep 0.05; done' });
      await untilPaused(s.id);
      expect(await paused(s.id)).toBe(true);
      const listed = await client.sessions.list();
      expect(listed.sessions.find((x) => x.sessionId === s.id)?.state).toBe('idle');

      const r = await client.execute({ sessionId: s.id, command: 'a=$(cat tick); sleep 0.5; b=$(cat tick); [ "$a" != "$b" ] && echo ticking' });
      expect(r.stdout).toBe('ticking\n');
      expect(await paused(s.id)).toBe(false);
      expect((await client.sessions.get(s.id)).state).toBe('active');

      // An idle session can be deleted like any other.
      await untilPaused(s.id);
      await client.sessions.delete(s.id);
      expect(await docker.listContainers({ all: true, filters: { label: [`buntime.session=${s.id}`] } })).toEqual([]);
    } finally {
      for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      await service.stop();
    }
  });
});
