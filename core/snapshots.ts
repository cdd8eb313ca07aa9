import type { Redis } from 'ioredis';
import { randomBase62 } from './accounts.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';

/** A named snapshot as stored in Redis: it belongs to the account, not to its session. */
export interface SnapshotRecord {
  snapshotId: string;
  account: string;
  /** The session it was taken of (which may be gone since). */
  sessionId: string;
  name: string | null;
  /** Epoch ms. */
  createdAt: number;
  /** Disk the snapshot takes (allocated blocks), bytes. */
  sizeBytes: number;
  /** The workspace quota it carries, MB: a session made from it gets this disk. */
  diskMb: number;
  /** The node whose SNAPSHOT_DIR holds it. */
  nodeId: string;
}

/** A new snapshot id: `snap_` + 20 random base62 characters. */
export function newSnapshotId(): string {
  return `snap_${randomBase62(20)}`;
}

/** How long a snapshot being made holds its place if nobody commits it, ms. */
const PENDING_MS = 600_000;

// Drops lapsed reservations, then takes one if the account keeps fewer than its cap (made ones
// and ones being made count alike) and its snapshots take less than its storage limit.
const RESERVE = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[3]) then return -1 end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
return 1`);

/**
 * Named snapshots of an account: records, the per-plan count cap (checked and taken in one
 * script, so parallel requests cannot overshoot it) and the bytes they take.
 */
export class SnapshotRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /**
   * Holds a place for snapshot `id` of `account`: `ok`, or which limit is reached (`count`:
   * `max` snapshots already; `storage`: they take `maxBytes` or more).
   */
  async reserve(account: string, id: string, max: number, maxBytes: number, now = Date.now()): Promise<'ok' | 'count' | 'storage'> {
    const k = this.keys;
    const r = await RESERVE.run(this.redis, [k.accountSnapshots(account), k.accountSnapshotsPending(account), k.accountSnapshotBytes(account)],
      [now, max, maxBytes, id, now + PENDING_MS]);
    return r === 1 ? 'ok' : r === 0 ? 'count' : 'storage';
  }

  /** Frees the place of a snapshot that was never made. */
  async release(account: string, id: string): Promise<void> {
    await this.redis.zrem(this.keys.accountSnapshotsPending(account), id);
  }

  /** Stores a made snapshot in place of its reservation, and counts its bytes. */
  async put(rec: SnapshotRecord): Promise<void> {
    const k = this.keys;
    await this.redis.multi()
      .hset(k.snapshot(rec.snapshotId), serialize(rec))
      .zrem(k.accountSnapshotsPending(rec.account), rec.snapshotId)
      .zadd(k.accountSnapshots(rec.account), rec.createdAt, rec.snapshotId)
      .incrby(k.accountSnapshotBytes(rec.account), rec.sizeBytes)
      .exec();
  }

  /** Bytes the account's snapshots take. */
  async bytes(account: string): Promise<number> {
    return Number((await this.redis.get(this.keys.accountSnapshotBytes(account))) ?? 0);
  }

  async get(id: string): Promise<SnapshotRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.snapshot(id));
    return h.snapshotId ? deserialize(h) : undefined;
  }

  /** The account's snapshots, newest first. */
  async list(account: string): Promise<SnapshotRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.accountSnapshots(account), 0, -1);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.snapshot(id));
    const rows = (await pipe.exec()) ?? [];
    return rows.map(([, h]) => h as Record<string, string>).filter((h) => h?.snapshotId).map(deserialize);
  }

  /** Removes a record and uncounts its bytes; true if it existed. */
  async remove(rec: SnapshotRecord): Promise<boolean> {
    const k = this.keys;
    const res = await this.redis.multi()
      .del(k.snapshot(rec.snapshotId))
      .zrem(k.accountSnapshots(rec.account), rec.snapshotId)
      .exec();
    const existed = res?.[0]?.[1] === 1;
    if (existed) await this.redis.decrby(k.accountSnapshotBytes(rec.account), rec.sizeBytes);
    return existed;
  }
}

function serialize(rec: SnapshotRecord): Record<string, string> {
  return {
    snapshotId: rec.snapshotId, account: rec.account, sessionId: rec.sessionId, name: rec.name ?? '',
    createdAt: String(rec.createdAt), sizeBytes: String(rec.sizeBytes), diskMb: String(rec.diskMb), nodeId: rec.nodeId,
  };
}

function deserialize(h: Record<string, string>): SnapshotRecord {
  return {
    snapshotId: h.snapshotId ?? '', account: h.account ?? '', sessionId: h.sessionId ?? '', name: h.name || null,
    createdAt: Number(h.createdAt), sizeBytes: Number(h.sizeBytes), diskMb: Number(h.diskMb), nodeId: h.nodeId ?? '',
  };
}
