import type { Redis } from 'ioredis';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';
import { utcDay } from './usage.ts';

/**
 * One egress attempt of a session: a plain-HTTP request or a CONNECT tunnel, written when it
 * ends. Bytes are those exchanged with the upstream (`bytesOut` sent to it, `bytesIn` received),
 * headers included; 0 when nothing was dialled.
 */
export interface EgressLogEntry {
  /** When the request arrived, ISO-8601. */
  at: string;
  /** HTTP method, `CONNECT` for tunnels. */
  method: string;
  /** Target name or IP literal as the client asked for it ('' when unparsable). */
  host: string;
  port: number;
  /** The address dialled, or the one refused; null when none. */
  address: string | null;
  decision: 'allowed' | 'denied';
  /** `public`, `allowlist` or `internal` when allowed; else a refusal code (`address_refused`, …). */
  reason: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
}

/** Egress of one account on one UTC day. */
export interface EgressDay {
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  bytesIn: number;
  bytesOut: number;
  /** `bytesIn + bytesOut`: what the usage report shows. */
  egressBytes: number;
  /** Requests and tunnels logged, allowed ones and refused ones. */
  connections: number;
  denied: number;
}

/** Entries kept per session, newest first. */
export const EGRESS_LOG_MAX = 1000;
/** Default life of a session's log after its last entry, s (7 days). */
export const EGRESS_LOG_TTL_SEC = 7 * 86_400;
/** Daily counters are kept as long as the other usage counters, s (400 days). */
const COUNTER_TTL_SEC = 400 * 86_400;

// One round trip per entry: push, trim, refresh the TTL, then the account's day counters.
// KEYS: log, day counters ('' when no account). ARGV: entry, max, ttl, counterTtl, in, out, denied.
const RECORD = new RedisScript(`
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if KEYS[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'bytesIn', ARGV[5])
  redis.call('HINCRBY', KEYS[2], 'bytesOut', ARGV[6])
  redis.call('HINCRBY', KEYS[2], 'connections', 1)
  redis.call('HINCRBY', KEYS[2], 'denied', ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1`);

/**
 * The per-session egress log (`GET /sessions/{id}/egress`) and per-account daily egress
 * counters, in Redis. A session's log is a list of JSON entries, newest first, trimmed to
 * {@link EGRESS_LOG_MAX}; it expires `ttlSec` after its last entry (default 7 days; set it to
 * the longest session TTL to keep logs for a session's whole life) and should be cleared when
 * the session is deleted. Counters live in one hash per account and day.
 *
 * Key names: `<prefix>:egress:<sessionId>` and `<prefix>:egress-usage:<account>:<YYYY-MM-DD>`.
 */
export class EgressLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSec = EGRESS_LOG_TTL_SEC,
  ) {}

  /** Appends an entry; with `account`, counts its bytes on the day the entry ended. */
  async record(sessionId: string, entry: EgressLogEntry, account?: string): Promise<void> {
    const endMs = Date.parse(entry.at) + entry.durationMs;
    const day = account === undefined ? '' : this.dayKey(account, utcDay(Number.isFinite(endMs) ? endMs : Date.now()));
    await RECORD.run(this.redis, [this.logKey(sessionId), day], [
      JSON.stringify(entry), EGRESS_LOG_MAX, this.ttlSec, COUNTER_TTL_SEC,
      Math.max(0, Math.round(entry.bytesIn)), Math.max(0, Math.round(entry.bytesOut)), entry.decision === 'denied' ? 1 : 0,
    ]);
  }

  /** The newest `limit` entries (at most {@link EGRESS_LOG_MAX}), newest first. */
  async latest(sessionId: string, limit = 100): Promise<EgressLogEntry[]> {
    const n = Math.max(0, Math.min(EGRESS_LOG_MAX, Math.floor(limit)));
    if (n === 0) return [];
    const rows = await this.redis.lrange(this.logKey(sessionId), 0, n - 1);
    return rows.map((r) => JSON.parse(r) as EgressLogEntry);
  }

  /** Drops a session's log (on session delete). */
  async clear(sessionId: string): Promise<void> {
    await this.redis.del(this.logKey(sessionId));
  }

  /** The account's egress on each of `dates` (UTC `YYYY-MM-DD`), zeros included, in order. */
  async egressBytes(account: string, dates: readonly string[]): Promise<EgressDay[]> {
    const pipe = this.redis.pipeline();
    for (const d of dates) pipe.hgetall(this.dayKey(account, d));
    const rows = ((await pipe.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>);
    return dates.map((date, i) => {
      const h = rows[i] ?? {};
      const bytesIn = Number(h.bytesIn ?? 0);
      const bytesOut = Number(h.bytesOut ?? 0);
      return { date, bytesIn, bytesOut, egressBytes: bytesIn + bytesOut, connections: Number(h.connections ?? 0), denied: Number(h.denied ?? 0) };
    });
  }

  private logKey(sessionId: string): string {
    return `${this.keys.prefix}:egress:${sessionId}`;
  }

  private dayKey(account: string, day: string): string {
    return `${this.keys.prefix}:egress-usage:${account}:${day}`;
  }
}
