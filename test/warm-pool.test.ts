import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../core/redis.ts';
import { inject } from 'vitest';
import { ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function nodeContainers(nodeId: string) {
  return docker.listContainers({ all: true, filters: { label: [`buntime.node=${nodeId}`] } });
}

async function waitFor(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('warm pool', () => {
  it('hands out a pre-started container, refills, and removes its spares on stop', async () => {
    const service = await ownService('warm', { WARM_POOL_SIZE: '1' });
    const redis = createRedis(inject('redisUrl'));
    let runnerUp = true;
    try {
      const client = await service.client('paid');
      // The node's heartbeat (every 5 s) says when its spare is ready.
      await waitFor(async () => JSON.parse((await redis.get(service.keys.node(service.nodeId))) ?? '{}').warm === 1);
      const spares = await nodeContainers(service.nodeId);
      expect(spares).toHaveLength(1);
      const spare = spares[0]!;

      const asked = Math.floor(Date.now() / 1000);
      const s = await client.sessions.create();
      expect(spare.Labels['buntime.session']).toBe(s.id);
      const info = await docker.getContainer(spare.Id).inspect();
      expect(Math.floor(Date.parse(info.State.StartedAt) / 1000)).toBeLessThanOrEqual(asked);
      expect((await client.execute({ sessionId: s.id, code: 'console.log("warm")' })).stdout).toBe('warm\n');

      // Another shape is not in the pool: it gets a container of its own; the pool refills.
      const custom = await client.sessions.create({ resourceLimits: { memory: 512 } });
      expect(custom.id).not.toBe(s.id);
      await waitFor(async () => (await nodeContainers(service.nodeId)).length === 3);

      await service.stopRunner();
      runnerUp = false;
      const left = (await nodeContainers(service.nodeId)).map((c) => c.Labels['buntime.session']).sort();
      expect(left).toEqual([s.id, custom.id].sort());
      await service.restartRunner({ WARM_POOL_SIZE: '0' });
      runnerUp = true;
      await client.sessions.delete(s.id);
      await client.sessions.delete(custom.id);
      expect(await nodeContainers(service.nodeId)).toEqual([]);
    } finally {
      if (runnerUp) await service.stop();
      else await service.api.stop();
      for (const c of await nodeContainers(service.nodeId)) await docker.getContainer(c.Id).remove({ force: true });
      redis.disconnect();
    }
  });
});
