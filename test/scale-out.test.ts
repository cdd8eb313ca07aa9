import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createRedis, Keys } from '../core/redis.ts';
import { SessionStore } from '../core/session-store.ts';
import { startRunner } from '../runner/main.ts';
import { newClient } from './support/harness.ts';
import { removeTestNode } from './support/node-cleanup.ts';

describe('scale-out', () => {
  it('spreads sessions over two nodes, routes each session to its node, and reports a lost node', async () => {
    const second = `test2-${randomBytes(3).toString('hex')}`;
    const runner2 = await startRunner({ ...process.env, REDIS_PREFIX: inject('redisPrefix'), NODE_ID: second, LOG_LEVEL: 'warn' });
    let stopped = false;
    const redis = createRedis(inject('redisUrl'));
    const store = new SessionStore(redis, new Keys(inject('redisPrefix')));
    const { client, cleanup } = await newClient('paid');
    try {
      const sessions = await Promise.all(Array.from({ length: 10 }, () => client.sessions.create()));
      const nodes = await Promise.all(sessions.map(async (s) => (await store.get(s.id))!.nodeId));
      expect(new Set(nodes)).toEqual(new Set([inject('nodeId'), second]));
      const results = await Promise.all(sessions.map((s, i) => client.execute({ sessionId: s.id, command: `echo ${i} > n.txt; cat n.txt` })));
      expect(results.map((r) => r.stdout)).toEqual(sessions.map((_, i) => `${i}\n`));

      await runner2.stop();
      stopped = true;
      const onSecond = sessions.filter((_, i) => nodes[i] === second);
      const onFirst = sessions.filter((_, i) => nodes[i] !== second);
      expect((await client.sessions.get(onSecond[0]!.id)).state).toBe('lost');
      await expect(client.execute({ sessionId: onSecond[0]!.id, command: 'true' })).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
      expect((await client.execute({ sessionId: onFirst[0]!.id, command: 'cat n.txt' })).stdout).toMatch(/^\d+\n$/);
    } finally {
      if (stopped) {
        // The second node's containers: deleting their sessions while it is down frees the slots;
        // its janitor would remove the containers at its next start. Restart it to clean up now.
        const again = await startRunner({ ...process.env, REDIS_PREFIX: inject('redisPrefix'), NODE_ID: second, LOG_LEVEL: 'warn' });
        await cleanup();
        await again.stop();
      } else {
        await cleanup();
        await runner2.stop();
      }
      await removeTestNode(second);
      redis.disconnect();
    }
  });
});
