import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { BuntimeError } from '../../core/errors.ts';
import type { Plans } from '../../core/plans.ts';
import type { Keys } from '../../core/redis.ts';
import { RedisScript } from '../../core/redis-script.ts';
import { ctx } from './request-context.ts';

const WINDOW_MS = 60_000;

// One atomic step per request: count it in the key's current minute and report the count.
const HIT = new RedisScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`);

/**
 * Requests per minute per key, in fixed windows aligned to the minute. Every authenticated
 * response carries `X-RateLimit-Limit/Remaining/Reset`; over the limit is a 429 with
 * `Retry-After`. If Redis is unreachable the request fails with 503 (fail closed): nothing else
 * would work without Redis either, and an unmetered API is worse than a briefly unavailable one.
 */
export function rateLimit(redis: Redis, keys: Keys, plans: Plans) {
  return async (_req: Request, res: Response, next: NextFunction) => {
    const principal = ctx(res).principal!;
    const limit = plans[principal.plan].requestsPerMinute;
    const now = Date.now();
    const window = Math.floor(now / WINDOW_MS);
    const resetMs = (window + 1) * WINDOW_MS;
    try {
      const count = Number(await HIT.run(redis, [keys.rate(principal.keyId, window)], [WINDOW_MS + 1000]));
      res.setHeader('X-RateLimit-Limit', String(limit));
      res.setHeader('X-RateLimit-Remaining', String(Math.max(0, limit - count)));
      res.setHeader('X-RateLimit-Reset', String(Math.ceil(resetMs / 1000)));
      if (count <= limit) return next();
      const retryAfterSec = Math.min(60, Math.max(1, Math.ceil((resetMs - now) / 1000)));
      next(new BuntimeError('rate_limit_exceeded', `rate limit of ${limit} requests per minute exceeded`, {
        details: { limit, windowSeconds: 60 }, retryAfterSec,
      }));
    } catch (err) {
      next(err);
    }
  };
}
