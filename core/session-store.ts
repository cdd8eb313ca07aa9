import type { Redis } from 'ioredis';
import { randomBase62 } from './accounts.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';
import type { ResourceLimits } from './schemas.ts';

export type SessionState = 'active' | 'idle' | 'deep-sleep' | 'lost';

/** A session as stored in Redis. Times are epoch ms. */
export interface SessionRecord {
  sessionId: string;
  account: string;
  nodeId: string;
  containerId: string;
  uid: number;
  createdAt: number;
  expiresAt: number;
  lastActive: number;
  state: SessionState;
  metadata: Record<string, unknown>;
  resourceLimits: ResourceLimits;
  /** Last counts the node reported (`stat`), for listings that must not wake sessions. */
  filesCount: number;
  activeProcesses: number;
  /** Why the session is `lost` (e.g. `workspace_missing`); absent otherwise. */
  lostReason?: string;
}

/** A new session id: `ses_` + 20 random base62 characters. */
export function newSessionId(): string {
  return `ses_${randomBase62(20)}`;
}

/** How long a slot reserved for a create in flight is held if nobody confirms it, ms. */
const PENDING_SLOT_MS = 120_000;

// Drops expired slots, then takes one if the account is under its cap. Scores are the time the
// slot lapses: a create in flight holds a short lease, a live session holds until expiresAt.
const RESERVE = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1`);

const SET_IF_EXISTS = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV)) return 1 end return 0`;

/**
 * Session records and the per-account slots that enforce the concurrent-session cap. The cap
 * check and the slot taking are one Lua script, so parallel creates cannot overshoot it.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Takes a slot for `sessionId` if `account` holds fewer than `cap`; false when full. */
  async reserve(account: string, sessionId: string, cap: number, now = Date.now()): Promise<boolean> {
    const ok = await RESERVE.run(this.redis, [this.keys.accountSessions(account)],
      [now, cap, sessionId, now + PENDING_SLOT_MS]);
    return ok === 1;
  }

  /** Frees the slot of a session that was never created. */
  async release(account: string, sessionId: string): Promise<void> {
    await this.redis.zrem(this.keys.accountSessions(account), sessionId);
  }

  /**
   * Stores a created session and, in the same transaction, turns the slot reserved for it
   * (`slotId`) into the session's own hold until it expires.
   */
  async put(rec: SessionRecord, slotId = rec.sessionId): Promise<void> {
    const key = this.keys.session(rec.sessionId);
    await this.redis
      .multi()
      .hset(key, serialize(rec))
      .pexpireat(key, rec.expiresAt + 3_600_000)
      .zrem(this.keys.accountSessions(rec.account), slotId)
      .zadd(this.keys.accountSessions(rec.account), rec.expiresAt, rec.sessionId)
      .zadd(this.keys.nodeExpiries(rec.nodeId), rec.expiresAt, rec.sessionId)
      .exec();
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.session(sessionId));
    return h.sessionId ? deserialize(h) : undefined;
  }

  /** Records the session's lifecycle state (`active`, `idle`). */
  async setState(sessionId: string, state: SessionState): Promise<void> {
    // Only an existing record: a session deleted meanwhile must not come back as a stub.
    await this.redis.eval(SET_IF_EXISTS, 1, this.keys.session(sessionId), 'state', state);
  }

  /**
   * Records where the session lives now: its container (none while it deep-sleeps) and state,
   * and the uid its workspace belongs to when that changed. Clears a `lostReason`. False when
   * the record is gone (deleted meanwhile): nothing is written then.
   */
  async setSandbox(sessionId: string, containerId: string, state: SessionState, uid?: number): Promise<boolean> {
    const fields = ['containerId', containerId, 'state', state, 'lostReason', ''];
    if (uid !== undefined) fields.push('uid', String(uid));
    return (await this.redis.eval(SET_IF_EXISTS, 1, this.keys.session(sessionId), ...fields)) === 1;
  }

  /** Marks a session `lost` (its workspace is gone) with the reason; it keeps its slot until deleted. */
  async setLost(sessionId: string, reason: string): Promise<void> {
    await this.redis.eval(SET_IF_EXISTS, 1, this.keys.session(sessionId), 'containerId', '', 'state', 'lost', 'lostReason', reason);
  }

  /** Records the counts a `stat` found. */
  async setStat(sessionId: string, stat: { filesCount: number; activeProcesses: number }): Promise<void> {
    await this.redis.eval(SET_IF_EXISTS, 1, this.keys.session(sessionId),
      'filesCount', String(stat.filesCount), 'activeProcesses', String(stat.activeProcesses));
  }

  /** Marks the session used now. */
  async touch(sessionId: string, now = Date.now()): Promise<void> {
    await this.redis.eval(SET_IF_EXISTS, 1, this.keys.session(sessionId), 'lastActive', String(now));
  }

  /** Removes the record and frees its slot; true if it existed. */
  async remove(rec: Pick<SessionRecord, 'sessionId' | 'account' | 'nodeId'>): Promise<boolean> {
    const res = await this.redis
      .multi()
      .del(this.keys.session(rec.sessionId))
      .zrem(this.keys.accountSessions(rec.account), rec.sessionId)
      .zrem(this.keys.nodeExpiries(rec.nodeId), rec.sessionId)
      .exec();
    return res?.[0]?.[1] === 1;
  }

  /** The account's live sessions, newest first, and how many there are. */
  async list(account: string, limit: number, offset: number): Promise<{ sessions: SessionRecord[]; total: number }> {
    const all = await this.redis.zrange(this.keys.accountSessions(account), 0, -1);
    const pipe = this.redis.pipeline();
    for (const id of all) pipe.hgetall(this.keys.session(id));
    const rows = (await pipe.exec()) ?? [];
    const live = rows
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h?.sessionId && Number(h.expiresAt) > Date.now())
      .map(deserialize)
      .sort((a, b) => b.createdAt - a.createdAt);
    return { sessions: live.slice(offset, offset + limit), total: live.length };
  }

  /** Ids of sessions hosted on `nodeId` whose expiry is due. */
  async dueForExpiry(nodeId: string, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodeExpiries(nodeId), '-inf', now, 'LIMIT', 0, 100);
  }

  /** Drops a stale expiry entry (the record is already gone). */
  async forgetExpiry(nodeId: string, sessionId: string): Promise<void> {
    await this.redis.zrem(this.keys.nodeExpiries(nodeId), sessionId);
  }
}

function serialize(rec: SessionRecord): Record<string, string> {
  return {
    sessionId: rec.sessionId,
    account: rec.account,
    nodeId: rec.nodeId,
    containerId: rec.containerId,
    uid: String(rec.uid),
    createdAt: String(rec.createdAt),
    expiresAt: String(rec.expiresAt),
    lastActive: String(rec.lastActive),
    state: rec.state,
    metadata: JSON.stringify(rec.metadata),
    resourceLimits: JSON.stringify(rec.resourceLimits),
    filesCount: String(rec.filesCount),
    activeProcesses: String(rec.activeProcesses),
    lostReason: rec.lostReason ?? '',
  };
}

function deserialize(h: Record<string, string>): SessionRecord {
  return {
    sessionId: h.sessionId ?? '',
    account: h.account ?? '',
    nodeId: h.nodeId ?? '',
    containerId: h.containerId ?? '',
    uid: Number(h.uid),
    createdAt: Number(h.createdAt),
    expiresAt: Number(h.expiresAt),
    lastActive: Number(h.lastActive),
    state: (h.state ?? 'active') as SessionState,
    metadata: JSON.parse(h.metadata ?? '{}') as Record<string, unknown>,
    resourceLimits: JSON.parse(h.resourceLimits ?? '{}') as ResourceLimits,
    filesCount: Number(h.filesCount ?? 0),
    activeProcesses: Number(h.activeProcesses ?? 0),
    ...(h.lostReason ? { lostReason: h.lostReason } : {}),
  };
}
