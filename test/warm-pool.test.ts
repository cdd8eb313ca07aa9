import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';

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
    const run = randomBytes(4).toString('hex');
    const env = { ...process.env, REDIS_PREFIX: `btwarm-${run}`, NODE_ID: `warm-${run}`, PORT: '0', LOG_LEVEL: 'warn', WARM_POOL_SIZE: '1' };
    const redis = createRedis(inject('redisUrl'));
    const runner = await startRunner(env);
    const api = await startApi(env);
    let stopped = false;
    try {
      const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
      await accounts.createAccount('warm', 'paid');
      const { key } = await accounts.createKey('warm');
      const { Buntime } = await import('@buntime/sdk');
      const client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
      // The node's heartbeat (every 5 s) says when its spare is ready.
      const keys = new Keys(env.REDIS_PREFIX);
      await waitFor(async () => JSON.parse((await redis.get(keys.node(env.NODE_ID))) ?? '{}').warm === 1);
      const spares = await nodeContainers(env.NODE_ID);
      expect(spares).toHaveLength(1);
      const spare = spares[0];

      const asked = Math.floor(Date.now() / 1000);
      const s = await client.sessions.create();
      expect(spare!.Labels['buntime.session']).toBe(s.id);
      const info = await docker.getContainer(spare!.Id).inspect();
      expect(Math.floor(Date.parse(info.State.StartedAt) / 1000)).toBeLessThanOrEqual(asked);
      expect((await client.execute({ sessionId: s.id, code: 'console.log("warm")' })).stdout).toBe('warm\n');

      // Another shape is not in the pool: it gets a container of its own.
      const custom = await client.sessions.create({ resourceLimits: { memory: 512 } });
      expect(custom.id).not.toBe(s.id);
      await waitFor(async () => (await nodeContainers(env.NODE_ID)).length === 3);

      await runner.stop();
      stopped = true;
      const left = (await nodeContainers(env.NODE_ID)).map((c) => c.Labels['buntime.session']).sort();
      expect(left).toEqual([s.id, custom.id].sort());
      const again = await startRunner({ ...env, WARM_POOL_SIZE: '0' });
      await client.sessions.delete(s.id);
      await client.sessions.delete(custom.id);
      await again.stop();
      expect(await nodeContainers(env.NODE_ID)).toEqual([]);
    } finally {
      await api.stop();
      if (!stopped) await runner.stop();
      for (const c of await nodeContainers(env.NODE_ID)) await docker.getContainer(c.Id).remove({ force: true });
      redis.disconnect();
    }
  });
});
