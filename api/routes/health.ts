import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { NodeDirectory } from '../../core/node-directory.ts';
import { REDIS_RETRY_AFTER_SEC } from '../../core/redis.ts';

/**
 * `GET /health`, unauthenticated: Redis reachable and how many nodes are alive; 503 with
 * `Retry-After` while Redis is not (the request connection bounds how long that takes to tell).
 */
export function healthRoutes(redis: Redis, nodes: NodeDirectory): Router {
  const r = Router();
  r.get('/health', async (_req, res) => {
    try {
      await redis.ping();
      const alive = (await nodes.live()).size;
      res.json({ status: alive > 0 ? 'ok' : 'degraded', redis: 'ok', nodes: alive });
    } catch {
      res.setHeader('Retry-After', String(REDIS_RETRY_AFTER_SEC));
      res.status(503).json({ status: 'unavailable', redis: 'unreachable', nodes: 0 });
    }
  });
  return r;
}
