import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { UidAllocator } from '../runner/uid-allocator.ts';
import { ownService } from './support/harness.ts';

/**
 * Session uids are unique per host, not per deployment: two runners with their own Redis
 * prefixes on one Docker engine (RLIMIT_NPROC is per uid host-wide) never give two live sessions
 * the same uid.
 */
describe('uids across deployments', () => {
  it('two runners with different REDIS_PREFIX on one engine never share a uid', async () => {
    const a = await ownService('uida', { WARM_POOL_SIZE: '0' });
    const b = await ownService('uidb', { WARM_POOL_SIZE: '0' });
    try {
      expect(a.env.REDIS_PREFIX).not.toBe(b.env.REDIS_PREFIX);
      const [ca, cb] = await Promise.all([a.client('paid'), b.client('paid')]);
      const uidsOf = async (client: typeof ca) => {
        const sessions = await Promise.all(Array.from({ length: 8 }, () => client.sessions.create({ resourceLimits: { disk: 16 } })));
        return Promise.all(sessions.map(async (s) => ({ id: s.id, uid: Number((await s.execute({ command: 'id -u' })).stdout) })));
      };
      const [ua, ub] = await Promise.all([uidsOf(ca), uidsOf(cb)]);
      const all = [...ua, ...ub].map((x) => x.uid);
      expect(new Set(all).size).toBe(all.length);
      // Each uid is held in the host-wide registry by the node and session that run as it.
      const registry = new UidAllocator({ dir: loadConfig(a.env).UID_DIR });
      for (const [service, list] of [[a, ua], [b, ub]] as const) {
        for (const { id, uid } of list) expect(await registry.owner(uid)).toEqual({ nodeId: service.nodeId, sessionId: id });
      }
      // Deleting a session frees its uid.
      await ca.sessions.delete(ua[0]!.id);
      expect(await registry.owner(ua[0]!.uid)).toBeUndefined();
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 180_000);
});
