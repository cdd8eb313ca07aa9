import { z } from 'zod';
import { REDIS_RETRY_AFTER_SEC } from '../../core/redis.ts';
import { RESPONDED, route } from '../route-table.ts';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'unavailable']).describe('degraded: no runner node is alive'),
  redis: z.enum(['ok', 'unreachable']),
  nodes: z.number().int().describe('runner nodes alive'),
});

/**
 * `GET /health`, unauthenticated: Redis reachable and how many nodes are alive; 503 with
 * `Retry-After` while Redis is not (the request connection bounds how long that takes to tell).
 */
export const healthRoutes = [
  route({
    method: 'get', path: '/health', operationId: 'health', tag: 'Service', auth: [],
    summary: 'Is the service up',
    ok: { status: 200, description: 'Redis answers; `nodes` runner nodes are alive.', json: healthSchema, name: 'Health' },
    other: { 503: { description: 'Redis is unreachable.', json: healthSchema, name: 'Health', retryAfter: true } },
    errors: [],
    handler: async ({ res, deps }) => {
      try {
        await deps.redis.ping();
        const alive = (await deps.nodes.live()).size;
        return { status: alive > 0 ? 'ok' as const : 'degraded' as const, redis: 'ok' as const, nodes: alive };
      } catch {
        res.setHeader('Retry-After', String(REDIS_RETRY_AFTER_SEC));
        res.status(503).json({ status: 'unavailable', redis: 'unreachable', nodes: 0 });
        return RESPONDED;
      }
    },
  }),
];
