import type { Redis } from 'ioredis';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';

/**
 * Running-execution slots per account and per session, shared by every API instance and node
 * through Redis, and each account's own line of executions waiting for one.
 *
 * - A slot is a lease: a member of the account's and the session's `run` sets scored by the
 *   time it lapses (the execution's deadline), so a crashed API or runner never leaks one.
 * - Over a limit, an execution waits in its account's line (FIFO by arrival). Whenever a slot
 *   frees, the line is dispatched in order: the oldest waiters whose session has room get the
 *   account's free slots; a waiter whose session is full is passed over, never the account.
 *   Grants are published, so the API instance holding the request can go on at once.
 * - A waiter stays in line only while its API instance keeps it alive (a short lease renewed
 *   every second) and only until the last moment it could still start in time (`alive` is
 *   scored by whichever comes first).
 *
 * Every operation is one Lua script on Redis's own clock (`TIME`).
 */

/** Limits of one account's plan. */
export interface SlotLimits {
  perSession: number;
  perAccount: number;
}

/** An execution asking for a slot. Times are epoch ms on the Redis clock. */
export interface SlotClaim {
  account: string;
  sessionId: string;
  executionId: string;
  /** Last moment it may still be started; a waiter past it leaves the line. */
  latestStart: number;
  /** When its slot lapses if nobody releases it: the execution's deadline. */
  leaseUntil: number;
}

/** Where an execution stands: holding a slot, waiting in line, or neither (left or dropped). */
export type SlotState = 'running' | 'waiting' | 'gone';

/** How long a waiter stays in line without its API instance renewing it, ms. */
export const WAITER_ALIVE_MS = 5_000;
/** How many waiters of an account one dispatch looks at (the head of the line). */
const DISPATCH_SCAN = 512;
/** Slack kept on the keys' time to live beyond the leases they hold, ms. */
const KEY_SLACK_MS = 60_000;

// KEYS: run, line, meta, alive, seq, grants channel. ARGV[1..3]: session-set prefix, per-account
// and per-session limits. meta holds "sessionId latestStart leaseUntil" per waiter.
const PRELUDE = `
local run, line, meta, alive, seq, grants = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local sprefix, alimit, slimit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function keep(k, untilMs)
  local ttl = math.floor(untilMs + ${KEY_SLACK_MS} - now)
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
local function scount(sid)
  local k = sprefix .. sid
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  return redis.call('ZCARD', k)
end
local function unqueue(id)
  redis.call('ZREM', line, id)
  redis.call('HDEL', meta, id)
  redis.call('ZREM', alive, id)
end
local function grant(id, sid, lease)
  redis.call('ZADD', run, lease, id)
  keep(run, lease)
  local k = sprefix .. sid
  redis.call('ZADD', k, lease, id)
  keep(k, lease)
end
local function dispatch()
  redis.call('ZREMRANGEBYSCORE', run, '-inf', now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', now)) do unqueue(id) end
  local free = alimit - redis.call('ZCARD', run)
  if free <= 0 then return end
  local granted, full = {}, {}
  for _, id in ipairs(redis.call('ZRANGE', line, 0, ${DISPATCH_SCAN - 1})) do
    local m = redis.call('HGET', meta, id)
    local sid, latest, lease
    if m then sid, latest, lease = string.match(m, '^(%S+) (%d+) (%d+)$') end
    if not sid or tonumber(latest) < now then
      unqueue(id)
    elseif not full[sid] then
      if scount(sid) < slimit then
        unqueue(id)
        grant(id, sid, tonumber(lease))
        granted[#granted + 1] = id
        free = free - 1
        if free == 0 then break end
      else
        full[sid] = true
      end
    end
  end
  if #granted > 0 then redis.call('PUBLISH', grants, table.concat(granted, ' ')) end
end
-- A waiter's score in alive: until when it stays in line (renewed, never past its latest start).
local function renew(id, aliveMs)
  local m = redis.call('HGET', meta, id)
  local latest = m and tonumber(string.match(m, '^%S+ (%d+) '))
  if latest then redis.call('ZADD', alive, 'XX', math.min(now + aliveMs, latest), id) end
end
local function state(id)
  if redis.call('ZSCORE', run, id) then return 1 end
  if redis.call('ZSCORE', line, id) then return 0 end
  return -1
end
`;

// ARGV[4..8]: executionId, sessionId, latestStart, leaseUntil, alive ms. The fast path (nobody
// waiting, room everywhere) takes a slot without touching the line or publishing anything.
const ENTER = new RedisScript(`${PRELUDE}
local id, sid, latest, lease = ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('ZSCORE', run, id) then return 1 end
if latest < now then return -1 end
redis.call('ZREMRANGEBYSCORE', run, '-inf', now)
if redis.call('ZCARD', line) == 0 and redis.call('ZCARD', run) < alimit and scount(sid) < slimit then
  grant(id, sid, lease)
  return 1
end
redis.call('ZADD', line, 'NX', redis.call('INCR', seq), id)
redis.call('HSET', meta, id, sid .. ' ' .. ARGV[6] .. ' ' .. ARGV[7])
redis.call('ZADD', alive, math.min(now + tonumber(ARGV[8]), latest), id)
for _, k in ipairs({line, meta, alive}) do keep(k, latest) end
dispatch()
return state(id)`);

// ARGV[4]: alive ms; ARGV[5..]: the caller's waiters. Renews them, dispatches, reports each.
const REFRESH = new RedisScript(`${PRELUDE}
local out = {}
for i = 5, #ARGV do renew(ARGV[i], tonumber(ARGV[4])) end
dispatch()
for i = 5, #ARGV do out[#out + 1] = state(ARGV[i]) end
return out`);

// ARGV[4..5]: executionId, sessionId. Frees its slot or its place in line, then dispatches.
const LEAVE = new RedisScript(`${PRELUDE}
redis.call('ZREM', run, ARGV[4])
redis.call('ZREM', sprefix .. ARGV[5], ARGV[4])
unqueue(ARGV[4])
dispatch()
return 1`);

const COUNTS = new RedisScript(`${PRELUDE}
return {redis.call('ZCOUNT', run, now, '+inf'), redis.call('ZCARD', line), scount(ARGV[4])}`);

const STATES: Record<number, SlotState> = { 1: 'running', 0: 'waiting', [-1]: 'gone' };

/** The slot tables in Redis; the API (`api/exec-admission.ts`) waits on them. */
export class ExecSlots {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The channel every grant to a waiter is published on (space-separated execution ids). */
  get grantsChannel(): string {
    return this.keys.slotGrants();
  }

  /**
   * Takes a slot at once if the account's line is empty and both limits allow, else joins the
   * line (and is granted right away if the line moves). `gone` when it can no longer start.
   */
  async enter(c: SlotClaim, limits: SlotLimits): Promise<SlotState> {
    const r = await ENTER.run(this.redis, this.keysOf(c.account),
      [...this.args(limits), c.executionId, c.sessionId, Math.floor(c.latestStart), Math.ceil(c.leaseUntil), WAITER_ALIVE_MS]);
    return STATES[Number(r)] ?? 'gone';
  }

  /** Keeps `executionIds` (waiters of `account`) in line, dispatches, and says where each stands. */
  async refresh(account: string, limits: SlotLimits, executionIds: string[]): Promise<SlotState[]> {
    const r = (await REFRESH.run(this.redis, this.keysOf(account),
      [...this.args(limits), WAITER_ALIVE_MS, ...executionIds])) as number[];
    return r.map((n) => STATES[Number(n)] ?? 'gone');
  }

  /** Releases an execution's slot, or its place in line; the next waiters are granted. */
  async leave(account: string, sessionId: string, executionId: string, limits: SlotLimits): Promise<void> {
    await LEAVE.run(this.redis, this.keysOf(account), [...this.args(limits), executionId, sessionId]);
  }

  /** Slots held by the account and by one of its sessions, and the length of its line. */
  async counts(account: string, sessionId = ''): Promise<{ running: number; waiting: number; session: number }> {
    const [running, waiting, session] = (await COUNTS.run(this.redis, this.keysOf(account),
      [...this.args({ perAccount: 0, perSession: 0 }), sessionId])) as number[];
    return { running: Number(running), waiting: Number(waiting), session: Number(session) };
  }

  private keysOf(account: string): string[] {
    const k = this.keys;
    return [k.slots(account, 'run'), k.slots(account, 'line'), k.slots(account, 'meta'), k.slots(account, 'alive'),
      k.slotSeq(), k.slotGrants()];
  }

  private args(limits: SlotLimits): Array<string | number> {
    return [this.keys.sessionSlots(''), limits.perAccount, limits.perSession];
  }
}
