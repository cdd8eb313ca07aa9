import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function paused(sessionId: string): Promise<boolean> {
  const [c] = await docker.listContainers({ all: true, filters: { label: [`buntime.session=${sessionId}`] } });
  return (await docker.getContainer(c!.Id).inspect()).State.Paused;
}

describe('idle sessions', () => {
  it('pauses a session nobody uses and wakes it on the next request', async () => {
    const run = randomBytes(4).toString('hex');
    const env = { ...process.env, REDIS_PREFIX: `btidle-${run}`, NODE_ID: `idle-${run}`, PORT: '0', LOG_LEVEL: 'warn', IDLE_AFTER: '1' };
    const runner = await startRunner(env);
    const api = await startApi(env);
    const redis = createRedis(inject('redisUrl'));
    let cleanup = async () => {};
    try {
      const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
      await accounts.createAccount('idle', 'free');
      const { key } = await accounts.createKey('idle');
      const { Buntime } = await import('@buntime/sdk');
      const client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
      cleanup = async () => {
        for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      };
      const s = await client.sessions.create();
      // A background ticker: frozen while the session is idle.
      await client.spawn({ sessionId: s.id, command: 'i=0; while :; do i=$((i+1)); echo $i > tick; sleep 0.05; done' });
      const deadline = Date.now() + 10_000;
      while (!(await paused(s.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await paused(s.id)).toBe(true);
      const listed = await client.sessions.list();
      expect(listed.sessions.find((x) => x.sessionId === s.id)?.state).toBe('idle');

      const r = await client.execute({ sessionId: s.id, command: 'a=$(cat tick); sleep 0.5; b=$(cat tick); [ "$a" != "$b" ] && echo ticking' });
      expect(r.stdout).toBe('ticking\n');
      expect(await paused(s.id)).toBe(false);
      expect((await client.sessions.get(s.id)).state).toBe('active');

      // An idle session can be deleted like any other.
      while (!(await paused(s.id)) && Date.now() < deadline + 10_000) await new Promise((res) => setTimeout(res, 200));
      await client.sessions.delete(s.id);
      expect(await docker.listContainers({ all: true, filters: { label: [`buntime.session=${s.id}`] } })).toEqual([]);
    } finally {
      await cleanup();
      await api.stop();
      await runner.stop();
      redis.disconnect();
    }
  });
});
