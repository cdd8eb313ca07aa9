import type { Redis } from 'ioredis';
import type { Keys } from '../core/redis.ts';

export type ExecEventName = 'stdout' | 'stderr' | 'result' | 'error';

/** How long an execution's events stay readable after its last event, seconds. */
const RETENTION_SEC = 900;

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
    const key = this.keys.execEvents(executionId);
    const res = await this.redis
      .multi()
      .xadd(key, '*', 'e', event, 'd', JSON.stringify(data))
      .expire(key, RETENTION_SEC)
      .exec();
    const id = res?.[0]?.[1];
    if (typeof id === 'string') await this.redis.publish(this.keys.execNotify(executionId), id);
  }
}
