import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { defaultSeccompProfile } from '../core/config.ts';
import { containerSpec } from '../runner/container-spec.ts';
import { loadSeccompProfile } from '../runner/seccomp-profile.ts';
import { newClient, ownService } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function containersOf(label: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  return list.map((c) => c.Id);
}

describe('session lifecycle', () => {
  it('DELETE removes the container at once and the session answers 404 after', async () => {
    const { client, cleanup } = await newClient();
    try {
      const s = await client.sessions.create();
      expect(await containersOf(`buntime.session=${s.id}`)).toHaveLength(1);
      expect(await client.sessions.delete(s.id)).toEqual({ deleted: true, sessionId: s.id });
      expect(await containersOf(`buntime.session=${s.id}`)).toEqual([]);
      await expect(client.execute({ sessionId: s.id, command: 'true' })).rejects.toMatchObject({ status: 404, code: 'session_not_found' });
      await expect(client.sessions.get(s.id)).rejects.toMatchObject({ status: 404 });
      expect((await client.sessions.list()).sessions.map((x) => x.sessionId)).not.toContain(s.id);
    } finally {
      await cleanup();
    }
  });

  it('replaces a container that died with a new one on the same workspace', async () => {
    const { client, cleanup } = await newClient();
    try {
      const s = await client.sessions.create();
      await client.execute({ sessionId: s.id, command: 'echo before > kept.txt' });
      const [id] = await containersOf(`buntime.session=${s.id}`);
      await docker.getContainer(id!).kill();
      const r = await client.execute({ sessionId: s.id, command: 'cat kept.txt; echo after' });
      expect(r.stdout).toBe('before\nafter\n');
      const now = await containersOf(`buntime.session=${s.id}`);
      expect(now).toHaveLength(1);
      expect(now).not.toEqual([id]);
      expect((await client.sessions.get(s.id)).state).toBe('active');
    } finally {
      await cleanup();
    }
  });

  it('answers 503 with Retry-After at once when no node can take a session', async () => {
    const run = randomBytes(4).toString('hex');
    const env = { ...process.env, REDIS_PREFIX: `btnonode-${run}`, PORT: '0', LOG_LEVEL: 'warn' };
    const api = await startApi(env);
    const redis = createRedis(inject('redisUrl'));
    try {
      const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
      await accounts.createAccount('nonode', 'free');
      const { key } = await accounts.createKey('nonode');
      const started = Date.now();
      const res = await fetch(`${api.url}/sessions/create`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // At once, not after the 60 s a queued create would wait.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await redis.zcard(new Keys(env.REDIS_PREFIX).accountSessions('nonode'))).toBe(0);
    } finally {
      await api.stop();
      redis.disconnect();
    }
  });

  it('reports a session through GET and lists it', async () => {
    const { client, cleanup } = await newClient();
    try {
      const s = await client.sessions.create({ metadata: { owner: 'test' } });
      const got = await client.sessions.get(s.id);
      expect(got).toMatchObject({ sessionId: s.id, state: 'active', metadata: { owner: 'test' }, filesCount: 0, activeProcesses: 0 });
      expect(Date.parse(got.expiresAt) - Date.parse(got.createdAt)).toBe(86_400_000);
      const list = await client.sessions.list();
      expect(list.total).toBe(1);
      expect(list.sessions[0]?.sessionId).toBe(s.id);
    } finally {
      await cleanup();
    }
  });

  it('leaves no orphan container after a runner restart and reconnects to live sessions', async () => {
    const service = await ownService('restart', { WARM_POOL_SIZE: '0' });
    const nodeLabel = `buntime.node=${service.nodeId}`;
    const redis = createRedis(inject('redisUrl'));
    let runnerUp = true;
    try {
      const client = await service.client();
      const kept = await client.sessions.create();
      const dropped = await client.sessions.create();
      await client.execute({ sessionId: kept.id, command: 'echo survived > note.txt' });
      await service.stopRunner();
      runnerUp = false;

      // While the runner is down: one session's record vanishes and a stray container appears.
      await redis.del(service.keys.session(dropped.id));
      const stray = await docker.createContainer(containerSpec({
        sessionId: `ses_stray${service.nodeId}`, nodeId: service.nodeId, image: process.env.SANDBOX_IMAGE ?? 'buntime-sandbox:0.1.0',
        runtime: 'runc', uid: 200_001, limits: { memory: 128, cpu: 0.25, timeout: 5, disk: 16 }, pidsLimit: 32, tmpMb: 8,
        dataDir: mkdtempSync(join(tmpdir(), 'buntime-stray-')), workspaceDir: mkdtempSync(join(tmpdir(), 'buntime-stray-ws-')),
        seccompProfile: loadSeccompProfile(defaultSeccompProfile('runc')),
      }));
      expect(await containersOf(nodeLabel)).toHaveLength(3);

      await service.restartRunner();
      runnerUp = true;
      const left = await containersOf(nodeLabel);
      expect(left).toHaveLength(1);
      expect(left).not.toContain(stray.id);
      const r = await client.execute({ sessionId: kept.id, command: 'cat note.txt' });
      expect(r.stdout).toBe('survived\n');
      await client.sessions.delete(kept.id);
      expect(await containersOf(nodeLabel)).toEqual([]);
    } finally {
      if (runnerUp) await service.stop();
      else await service.api.stop();
      for (const id of await containersOf(nodeLabel)) await docker.getContainer(id).remove({ force: true });
      redis.disconnect();
    }
  });
});

describe('deleting a busy session', () => {
  it('ends an execution in flight with 404 session_not_found', async () => {
    const { client, cleanup } = await newClient();
    try {
      const s = await client.sessions.create();
      // Settled into a value at once: it rejects while the delete is still being answered.
      const outcome = client.execute({ sessionId: s.id, code: 'await Bun.sleep(5000); console.log("never")' })
        .then(() => undefined, (err: unknown) => err);
      await new Promise((r) => setTimeout(r, 500));
      await client.sessions.delete(s.id);
      expect(await outcome).toMatchObject({ status: 404, code: 'session_not_found' });
    } finally {
      await cleanup();
    }
  });
});
