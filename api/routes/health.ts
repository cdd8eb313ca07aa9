import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Keys } from '../../core/redis.ts';

/** `GET /health`, unauthenticated: Redis reachable and how many nodes are alive. */
export function healthRoutes(redis: Redis, keys: Keys): Router {
  const r = Router();
  r.get('/health', async (_req, res) => {
    try {
      await redis.ping();
      const nodes = await redis.smembers(keys.nodes());
      const alive = nodes.length ? await redis.exists(...nodes.map((n) => keys.node(n))) : 0;
      res.json({ status: alive > 0 ? 'ok' : 'degraded', redis: 'ok', nodes: alive });
    } catch {
      res.status(503).json({ status: 'unavailable', redis: 'unreachable', nodes: 0 });
    }
  });
  return r;
}
