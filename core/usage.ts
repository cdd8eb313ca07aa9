import type { ChainableCommander, Redis } from 'ioredis';
import type { AccountStore, KeyInfo } from './accounts.ts';
import type { EgressLog } from './egress-log.ts';
import { BuntimeError } from './errors.ts';
import type { Plan, PlanName, Plans } from './plans.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';

const DAY_MS = 86_400_000;
/** How long daily counters are kept, s (a little over a year). */
const RETENTION_SEC = 400 * 86_400;
type Field = 'requests' | 'executions' | 'cpuMs' | 'sessionMs' | 'expired';

/** Counters of one key, or of a whole account, on one UTC day. */
export interface DayUsage {
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  requests: number;
  executions: number;
  /** CPU time (user + sys) of finished executions, ms. */
  cpuMs: number;
  /** Time sessions existed, s; counted when a session ends (delete, expiry), split over UTC days. */
  sessionSeconds: number;
  /** Executions dropped unrun because they waited past their caller's deadline (the caller got 408). */
  expired: number;
}

/** An account's counters on one UTC day: its keys' summed, plus what only the account counts. */
export interface AccountDayUsage extends DayUsage {
  /** Bytes its sessions exchanged with upstreams through the egress proxy (in + out). */
  egressBytes: number;
}

/** What `GET /usage` and `buntime-admin usage` report: the plan's limits and daily counters. */
export interface UsageReport {
  account: string;
  plan: PlanName;
  limits: Plan;
  /** Days with any activity among the last `days`, oldest first, summed over the keys. */
  days: AccountDayUsage[];
  keys: Array<Omit<KeyInfo, 'account'> & { days: DayUsage[] }>;
}

// Adds field/amount pairs to one day's counters and keeps them RETENTION_SEC: one command on the
// hot path (an ioredis pipeline object costs more CPU than the commands it carries).
const COUNT = new RedisScript(`
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`);

// Ends a session's lifetime exactly once, whichever API instance tries first: the winner gets
// back `"<keyId> <createdAt>"`, everyone else nil.
const CLOSE = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local owner = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return owner`;

/**
 * Usage per key and UTC day in one Redis hash each (`requests`, `executions`, `cpuMs`,
 * `sessionMs`). Recording is one script call, fire-and-forget, so it never delays or
 * fails a request. Session lifetimes are kept open in a ledger from create until the session
 * ends, then counted once.
 */
export class UsageStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Counts one request of key `keyId`. */
  request(keyId: string, now = Date.now()): void {
    this.record(keyId, utcDay(now), { requests: 1 });
  }

  /** Counts one finished execution and its CPU time, ms (by the runner that ran it). */
  execution(keyId: string, cpuMs: number, now = Date.now()): void {
    this.record(keyId, utcDay(now), { executions: 1, cpuMs: Math.max(0, Math.round(cpuMs)) });
  }

  /** Counts one execution dropped unrun past its deadline. */
  expired(keyId: string, now = Date.now()): void {
    this.record(keyId, utcDay(now), { expired: 1 });
  }

  /** Opens the lifetime of a session created by `keyId`; times are epoch ms. */
  sessionOpened(keyId: string, sessionId: string, createdAt: number, expiresAt: number): void {
    void this.redis.multi()
      .zadd(this.keys.usageSessions(), expiresAt, sessionId)
      .hset(this.keys.usageSessionOwners(), sessionId, `${keyId} ${createdAt}`)
      .exec().catch(() => {});
  }

  /** Counts a session's lifetime up to `endMs` (epoch ms), once, split over UTC days. */
  async sessionClosed(sessionId: string, endMs: number): Promise<void> {
    const owner = await this.redis.eval(CLOSE, 2, this.keys.usageSessions(), this.keys.usageSessionOwners(), sessionId);
    const [keyId, created] = typeof owner === 'string' ? owner.split(' ') : [];
    if (!keyId || !created) return;
    const pipe = this.redis.pipeline();
    for (const { date, ms } of splitByUtcDay(Number(created), endMs)) this.incr(pipe, keyId, date, { sessionMs: ms });
    await pipe.exec();
  }

  /**
   * Ends the lifetimes of sessions that ended without a DELETE through the API: expired ones at
   * their `expiresAt` (the runner deletes them then) and, with `vanished`, ones whose record is
   * gone (their container was lost) now — that check reads every open session, so it is for
   * the periodic sweep. Safe to run from every instance at once. Returns how many it ended.
   */
  async settle(now = Date.now(), vanished = true): Promise<number> {
    const due = pairs(await this.redis.zrangebyscore(this.keys.usageSessions(), '-inf', now, 'WITHSCORES'));
    const ended = vanished ? [...due, ...(await this.vanished(now))] : due;
    for (const [id, endMs] of ended) await this.sessionClosed(id, endMs);
    return ended.length;
  }

  /** Open sessions not yet expired whose record is gone, each with `now` as its end. */
  private async vanished(now: number): Promise<Array<[string, number]>> {
    const open = await this.redis.zrangebyscore(this.keys.usageSessions(), `(${now}`, '+inf');
    const pipe = this.redis.pipeline();
    for (const id of open) pipe.exists(this.keys.session(id));
    const exists = (await pipe.exec()) ?? [];
    return open.filter((_, i) => exists[i]?.[1] === 0).map((id) => [id, now]);
  }

  /** Counters of each key on each of `dates`, zeros included, in the order given. */
  async read(keyIds: string[], dates: string[]): Promise<DayUsage[][]> {
    const pipe = this.redis.pipeline();
    for (const id of keyIds) for (const d of dates) pipe.hgetall(this.keys.usage(id, d));
    const rows = ((await pipe.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>);
    return keyIds.map((_, k) => dates.map((date, d) => dayUsage(date, rows[k * dates.length + d] ?? {})));
  }

  private record(keyId: string, date: string, fields: Partial<Record<Field, number>>): void {
    const args: Array<string | number> = [RETENTION_SEC];
    for (const [f, n] of Object.entries(fields)) args.push(f, n);
    void COUNT.run(this.redis, [this.keys.usage(keyId, date)], args).catch(() => {});
  }

  private incr(pipe: ChainableCommander, keyId: string, date: string, fields: Partial<Record<Field, number>>): void {
    const key = this.keys.usage(keyId, date);
    for (const [f, n] of Object.entries(fields)) pipe.hincrby(key, f, n);
    pipe.expire(key, RETENTION_SEC);
  }
}

/** Builds the usage report of `account` over the last `days` UTC days (today included). */
export async function usageReport(
  d: { accounts: AccountStore; usage: UsageStore; plans: Plans; egress: EgressLog }, account: string, days = 30, now = Date.now(),
): Promise<UsageReport> {
  const acc = await d.accounts.getAccount(account);
  if (!acc) throw new BuntimeError('not_found', `no account ${account}`, { details: { account } });
  await d.usage.settle(now, false);
  const keys = await d.accounts.listKeys(account);
  const dates = lastUtcDays(days, now);
  const perKey = await d.usage.read(keys.map((k) => k.id), dates);
  const egress = await d.egress.egressBytes(account, dates);
  const total = dates.map((date, i) => ({ ...sumDays(date, perKey.map((rows) => rows[i]!)), egressBytes: egress[i]?.egressBytes ?? 0 }));
  return {
    account: acc.name, plan: acc.plan, limits: d.plans[acc.plan], days: total.filter((t) => active(t) || t.egressBytes > 0),
    keys: keys.map(({ account: _, ...k }, i) => ({ ...k, days: (perKey[i] ?? []).filter(active) })),
  };
}

/** `YYYY-MM-DD` of an epoch-ms instant, in UTC. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last `n` UTC days up to the one of `now`, oldest first. */
export function lastUtcDays(n: number, now: number): string[] {
  return Array.from({ length: n }, (_, i) => utcDay(now - (n - 1 - i) * DAY_MS));
}

/** Splits the interval [startMs, endMs) at UTC midnights: how many ms fall on each day. */
export function splitByUtcDay(startMs: number, endMs: number): Array<{ date: string; ms: number }> {
  const out: Array<{ date: string; ms: number }> = [];
  for (let t = startMs; t < endMs;) {
    const next = Math.min(endMs, (Math.floor(t / DAY_MS) + 1) * DAY_MS);
    out.push({ date: utcDay(t), ms: next - t });
    t = next;
  }
  return out;
}

function dayUsage(date: string, h: Record<string, string>): DayUsage {
  return {
    date, requests: Number(h.requests ?? 0), executions: Number(h.executions ?? 0), cpuMs: Number(h.cpuMs ?? 0),
    sessionSeconds: Math.round(Number(h.sessionMs ?? 0) / 1000), expired: Number(h.expired ?? 0),
  };
}

function sumDays(date: string, rows: DayUsage[]): DayUsage {
  const sum = (f: Exclude<keyof DayUsage, 'date'>) => rows.reduce((n, r) => n + r[f], 0);
  return {
    date, requests: sum('requests'), executions: sum('executions'), cpuMs: sum('cpuMs'),
    sessionSeconds: sum('sessionSeconds'), expired: sum('expired'),
  };
}

function active(d: DayUsage): boolean {
  return d.requests + d.executions + d.cpuMs + d.sessionSeconds + d.expired > 0;
}

function pairs(flat: string[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}
