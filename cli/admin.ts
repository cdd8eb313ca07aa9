import type { Redis } from 'ioredis';
import { loadConfig } from '../core/config.ts';
import { BuntimeError } from '../core/errors.ts';
import { createRedis } from '../core/redis.ts';
import { parseArgs } from './args.ts';
import { run } from './commands.ts';

/**
 * `buntime-admin`: accounts, keys, usage and admin tokens, straight against Redis
 * (REDIS_URL, REDIS_PREFIX). Exit code 2 for a usage or input error, 1 for anything else.
 */
const cfg = loadConfig();
let redis: Redis | undefined;
try {
  const out = await run(parseArgs(process.argv.slice(2)), {
    cfg, redis: () => (redis ??= createRedis(cfg.REDIS_URL, { maxRetriesPerRequest: 1 })),
  });
  if (out) console.log(out);
} catch (err) {
  console.error(err instanceof BuntimeError || err instanceof RangeError ? err.message : String(err));
  process.exitCode = (err instanceof BuntimeError && err.code === 'invalid_request') || err instanceof RangeError ? 2 : 1;
} finally {
  redis?.disconnect();
}
