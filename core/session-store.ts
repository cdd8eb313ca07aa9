import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { randomBase62 } from './accounts.ts';
import { NO_EGRESS, parseStoredPolicy, type EgressPolicy } from './network-policy.ts';
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
  /** The effective egress policy (`effectivePolicy`); a record from before policies existed reads as `none`. */
  network: EgressPolicy;
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

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The id of a session's preview origin (`{previewId}.PREVIEW_DOMAIN`): `ses-` + 24 lowercase
 * base32 characters (120 bits) of a hash of the session id. Session ids are mixed-case and
 * hold `_`, which a host name cannot carry (browsers lowercase hosts; public CAs refuse `_`).
 * Derived rather than drawn so that every process knows it without a lookup; it reveals
 * nothing of the session id.
 */
export function previewIdOf(sessionId: string): string {
  const digest = createHash('sha256').update(`buntime-preview:${sessionId}`).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 24) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return `ses-${out}`;
}

/** True for a string shaped like a preview id (checked before any lookup). */
export function isPreviewId(s: string): boolean {
  return /^ses-[a-z2-7]{24}$/.test(s);
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
    const index = this.keys.previewIndex(previewIdOf(rec.sessionId));
    await this.redis
      .multi()
      .hset(key, serialize(rec))
      .pexpireat(key, rec.expiresAt + 3_600_000)
      .set(index, rec.sessionId, 'PXAT', rec.expiresAt + 3_600_000)
      .zrem(this.keys.accountSessions(rec.account), slotId)
      .zadd(this.keys.accountSessions(rec.account), rec.expiresAt, rec.sessionId)
      .zadd(this.keys.nodeExpiries(rec.nodeId), rec.expiresAt, rec.sessionId)
      .exec();
  }

  /** The session whose preview origin is `previewId`, if it is still recorded. */
  async byPreviewId(previewId: string): Promise<string | undefined> {
    if (!isPreviewId(previewId)) return undefined;
    return (await this.redis.get(this.keys.previewIndex(previewId))) ?? undefined;
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
      .del(this.keys.previewIndex(previewIdOf(rec.sessionId)))
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

  /** Ids of every session hosted on `nodeId`. */
  async hostedBy(nodeId: string): Promise<string[]> {
    return this.redis.zrange(this.keys.nodeExpiries(nodeId), 0, -1);
  }

  /** Ids of sessions hosted on `nodeId` whose expiry is due. */
  async dueForExpiry(nodeId: string, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodeExpiries(nodeId), '-inf', now, 'LIMIT', 0, 100);
  }

  /** How many sessions hosted on `nodeId` are in each state (as recorded), for metrics. */
  async statesOn(nodeId: string): Promise<Record<SessionState, number>> {
    const counts: Record<SessionState, number> = { active: 0, idle: 0, 'deep-sleep': 0, lost: 0 };
    const ids = await this.redis.zrange(this.keys.nodeExpiries(nodeId), 0, -1);
    if (ids.length === 0) return counts;
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.session(id), 'state');
    for (const [, state] of (await pipe.exec()) ?? []) {
      if (typeof state === 'string' && state in counts) counts[state as SessionState]++;
    }
    return counts;
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
    network: JSON.stringify(rec.network),
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
    network: h.network ? parseStoredPolicy(h.network) : NO_EGRESS,
    filesCount: Number(h.filesCount ?? 0),
    activeProcesses: Number(h.activeProcesses ?? 0),
    ...(h.lostReason ? { lostReason: h.lostReason } : {}),
  };
}
