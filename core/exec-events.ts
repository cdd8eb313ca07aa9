import type { Redis } from 'ioredis';
import type { ErrorBody } from './errors.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';
import type { ExecutionResult } from './schemas.ts';

/**
 * An execution's event stream (`POST /execute` with `stream: true`, resumable with
 * `Last-Event-ID`): a Redis Stream per execution, written by the runner (output, result) and by
 * the API when the job failed before any result (error), read by any API instance. Declared
 * here once, for both sides.
 */
export type ExecEvent =
  | { event: 'stdout' | 'stderr'; data: { data: string } }
  | { event: 'result'; data: ExecutionResult }
  | { event: 'error'; data: ErrorBody };
export type ExecEventName = ExecEvent['event'];

/** An event as read back: its stream id and its JSON data as stored. */
export interface StoredEvent {
  id: string;
  event: ExecEventName;
  data: string;
}

export const TERMINAL_EVENTS: ReadonlySet<ExecEventName> = new Set(['result', 'error']);

/** How long an execution's events stay readable after its last event, seconds. */
export const EVENTS_RETENTION_SEC = 900;

// Append, keep, and wake the followers: one round trip per event. A terminal event is appended
// only once: the first of result/error wins (the API's error for a failed job must never follow
// the runner's result, nor the other way round).
const APPEND = new RedisScript(`
if ARGV[4] == '1' then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if last[1] and (last[1][2][2] == 'result' or last[1][2][2] == 'error') then return false end
end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id)
return id`);

export class ExecEventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Appends one event; a second terminal event is dropped. Resolves with its id (null if dropped). */
  async append(executionId: string, e: ExecEvent): Promise<string | null> {
    const terminal = TERMINAL_EVENTS.has(e.event) ? '1' : '0';
    const id = await APPEND.run(this.redis, [this.keys.execEvents(executionId), this.keys.execNotify(executionId)],
      [e.event, JSON.stringify(e.data), EVENTS_RETENTION_SEC, terminal]);
    return typeof id === 'string' ? id : null;
  }

  /** Up to `count` events after `afterId` ('0' for the first), in order. */
  async read(executionId: string, afterId: string, count = 500): Promise<StoredEvent[]> {
    const start = afterId === '0' ? '-' : `(${afterId}`;
    const rows = await this.redis.xrange(this.keys.execEvents(executionId), start, '+', 'COUNT', count);
    return rows.map(([id, fields]) => ({ id, event: fields[1] as ExecEventName, data: fields[3] ?? '{}' }));
  }

  /** The stream's terminal event, if it has one (the stream is then complete). */
  async terminal(executionId: string): Promise<StoredEvent | undefined> {
    const rows = await this.redis.xrevrange(this.keys.execEvents(executionId), '+', '-', 'COUNT', 1);
    const [id, fields] = rows[0] ?? [];
    const event = fields?.[1] as ExecEventName | undefined;
    if (!id || !event || !TERMINAL_EVENTS.has(event)) return undefined;
    return { id, event, data: fields?.[3] ?? '{}' };
  }

  /** The channel that is published to on every append. */
  notifyChannel(executionId: string): string {
    return this.keys.execNotify(executionId);
  }
}
