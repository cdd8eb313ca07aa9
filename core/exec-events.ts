import type { Redis } from 'ioredis';
import type { ErrorBody } from './errors.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';
import { RECORD_OVERHEAD_BYTES, STORED_BYTES_LUA } from './stored-bytes.ts';
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

// Append, keep, count, and wake the followers: one round trip per event. A terminal event is
// appended only once: the first of result/error wins (the API's error for a failed job must
// never follow the runner's result, nor the other way round). An output event that would take
// the owner's streams past its quota is not stored (0). The stream's size is counted against its
// owner's stored bytes until the stream lapses: each append moves its whole size to the bucket
// of its new expiry.
// KEYS: events, notify, owner, size meta, stored-bytes prefix. ARGV: event, data, retention s,
// terminal flag, quota bytes (0: none).
const APPEND = new RedisScript(`${STORED_BYTES_LUA}
local terminal = ARGV[4] == '1'
if terminal then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if last[1] and (last[1][2][2] == 'result' or last[1][2][2] == 'error') then return false end
end
local now = stored_now()
local owner = redis.call('GET', KEYS[3])
local hk = owner and (KEYS[5] .. owner .. ':streams')
local size = #ARGV[1] + #ARGV[2] + ${RECORD_OVERHEAD_BYTES}
local quota = tonumber(ARGV[5])
if hk and not terminal and quota > 0 and stored_sum(hk, now) + size > quota then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if hk then
  local old = tonumber(redis.call('HGET', KEYS[4], 'b') or '0')
  local oldUntil = tonumber(redis.call('HGET', KEYS[4], 'u') or '0')
  local untilMs = now + tonumber(ARGV[3]) * 1000
  if old > 0 then stored_add(hk, now, oldUntil, -old) end
  stored_add(hk, now, untilMs, old + size)
  redis.call('HSET', KEYS[4], 'b', old + size, 'u', untilMs)
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
redis.call('PUBLISH', KEYS[2], id)
return id`);

/** What became of an appended event. */
export type AppendOutcome = 'appended' | 'duplicate' | 'over-quota';

export class ExecEventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Bytes of streamed output one account may keep (0: no quota; the API only appends errors). */
    private readonly quotaBytes = 0,
  ) {}

  /**
   * Appends one event: a second terminal event is dropped, and an output event past its
   * owner's stream quota is not stored. Terminal events are always stored (keep them bounded).
   */
  async append(executionId: string, e: ExecEvent): Promise<AppendOutcome> {
    const terminal = TERMINAL_EVENTS.has(e.event) ? '1' : '0';
    const k = this.keys;
    const r = await APPEND.run(this.redis,
      [k.execEvents(executionId), k.execNotify(executionId), k.execOwner(executionId), k.execSize(executionId), k.storedBytesPrefix()],
      [e.event, JSON.stringify(e.data), EVENTS_RETENTION_SEC, terminal, this.quotaBytes]);
    return typeof r === 'string' ? 'appended' : r === 0 ? 'over-quota' : 'duplicate';
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
