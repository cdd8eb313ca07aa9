import type { Redis } from 'ioredis';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';

/**
 * Bytes each account keeps in Redis through the service: idempotent replays and execution event
 * streams. Each kind is a hash of buckets, one per minute in which the bytes it holds expire
 * (field = epoch minute), so the total goes down by itself as records lapse, without a sweeper
 * and without knowing each key: a sum skips (and prunes) the buckets whose minute has passed.
 * Counted are the stored values plus a fixed overhead per record; Redis's own bookkeeping is
 * left out. Kept in step by the Lua scripts that store the records (`LUA` is spliced into them).
 */

/** Per record, what Redis keeps beyond its value (key, fields, entry id), bytes, roughly. */
export const RECORD_OVERHEAD_BYTES = 64;

export const STORED_BYTES_LUA = `
local function stored_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function stored_bucket(untilMs) return math.ceil(untilMs / 60000) end
-- Adds bytes that stay stored until untilMs (negative: takes them back from that bucket).
local function stored_add(k, now, untilMs, bytes)
  if bytes == 0 then return end
  local b = stored_bucket(untilMs)
  if redis.call('HINCRBY', k, b, bytes) == 0 then redis.call('HDEL', k, b) end
  local ttl = b * 60000 + 60000 - now
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
local function stored_sum(k, now)
  local all = redis.call('HGETALL', k)
  local sum = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) * 60000 <= now then redis.call('HDEL', k, all[i]) else sum = sum + tonumber(all[i + 1]) end
  end
  return sum
end
`;

const SUM = new RedisScript(`${STORED_BYTES_LUA}
local now = stored_now()
return {stored_sum(KEYS[1], now), stored_sum(KEYS[2], now)}`);

/** What an account keeps in Redis, bytes. */
export interface StoredBytesReport {
  idempotency: number;
  streams: number;
  total: number;
}

/** Reads the per-account counters (the stores keep them in their own scripts). */
export class StoredBytes {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async of(account: string): Promise<StoredBytesReport> {
    const [idempotency, streams] = (await SUM.run(this.redis,
      [this.keys.storedBytes(account, 'idempotency'), this.keys.storedBytes(account, 'streams')], [])) as number[];
    return { idempotency: Number(idempotency), streams: Number(streams), total: Number(idempotency) + Number(streams) };
  }
}
