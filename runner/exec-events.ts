import type { Redis } from 'ioredis';
import type { Keys } from '../core/redis.ts';
import { RedisScript } from '../core/redis-script.ts';

export type ExecEventName = 'stdout' | 'stderr' | 'result' | 'error';

/** How long an execution's events stay readable after its last event, seconds. */
const RETENTION_SEC = 900;

// Append, keep, and wake the followers: one round trip per event.
const APPEND = new RedisScript(`
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id)
return id`);

/**
 * Appends an execution's output and result to its Redis Stream and wakes the API instances that
 * follow it. Appends of one execution go out in order on one connection; the caller only awaits
 * the last one.
 */
export class ExecEventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async append(executionId: string, event: ExecEventName, data: unknown): Promise<void> {
    await APPEND.run(this.redis, [this.keys.execEvents(executionId), this.keys.execNotify(executionId)],
      [event, JSON.stringify(data), RETENTION_SEC]);
  }
}
