import type { Redis } from 'ioredis';
import type { Keys } from '../redis.ts';
import { RedisScript } from '../redis-script.ts';
import type { WebhookEventType } from './events.ts';

/** A webhook as stored. Its secret never leaves the store except to sign deliveries. */
export interface WebhookRecord {
  /** `wh_` + 20 base62 characters. */
  id: string;
  account: string;
  url: string;
  events: WebhookEventType[];
  secret: string;
  /** ISO-8601. */
  createdAt: string;
}

/** What the API shows of a webhook (no secret). */
export type WebhookView = Omit<WebhookRecord, 'secret' | 'account'>;

/** One delivery attempt, as `GET /webhooks/{id}/deliveries` shows it. */
export interface DeliveryAttempt {
  /** The delivery (one event to one webhook); the same on each of its attempts. */
  deliveryId: string;
  eventId: string;
  event: WebhookEventType;
  /** 1 for the first try. */
  attempt: number;
  /** ISO-8601. */
  at: string;
  ok: boolean;
  /** The receiver's HTTP status, null when none came. */
  statusCode: number | null;
  /** Why it failed (`http_500`, `address_refused: …`, `timeout`, …); null when ok. */
  error: string | null;
  durationMs: number;
  /** When the next attempt is due, ISO-8601; null when this was the last. */
  nextAttemptAt: string | null;
}

/** Attempts kept per webhook (newest first). */
export const DELIVERY_LOG_MAX = 100;
/** Life of a webhook's attempt log after its last entry, s (7 days). */
const DELIVERY_LOG_TTL_SEC = 7 * 86_400;
/** A pending delivery not settled within this long is no longer counted, ms (the retry window + 1 h). */
export const PENDING_MAX_AGE_MS = 25 * 3_600_000;

// KEYS: account set, webhook hash, per-event sets. ARGV: max, id, then the hash's field/value pairs.
const CREATE = new RedisScript(`
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
for i = 3, #KEYS do redis.call('SADD', KEYS[i], ARGV[2]) end
return 1`);

// Forgets pending deliveries too old to be real, then counts one more if under the bound.
// KEYS: pending zset. ARGV: now, max age, max, job id.
const RESERVE = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

/**
 * Webhooks of accounts in Redis: the records, an index per account and event type (so emitting
 * costs one SMEMBERS), each webhook's recent attempts, and the count of deliveries pending per
 * account (bounded, so a dead receiver cannot fill Redis with retries).
 */
export class WebhookStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Stores a webhook unless its account already has `max`; false when full. */
  async create(rec: WebhookRecord, max: number): Promise<boolean> {
    const k = this.keys;
    const keys = [k.accountWebhooks(rec.account), k.webhook(rec.id), ...rec.events.map((e) => k.webhookSubscribers(rec.account, e))];
    const fields = Object.entries(serialize(rec)).flat();
    return (await CREATE.run(this.redis, keys, [max, rec.id, ...fields])) === 1;
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.webhook(id));
    return h.id ? deserialize(h) : undefined;
  }

  /** The account's webhooks, oldest first. */
  async list(account: string): Promise<WebhookRecord[]> {
    const ids = await this.redis.smembers(this.keys.accountWebhooks(account));
    const all = await Promise.all(ids.map((id) => this.get(id)));
    return all.filter((w): w is WebhookRecord => w !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Removes a webhook and its log; its deliveries still queued find it gone and stop. */
  async remove(rec: WebhookRecord): Promise<void> {
    const k = this.keys;
    const multi = this.redis.multi()
      .del(k.webhook(rec.id), k.webhookDeliveries(rec.id))
      .srem(k.accountWebhooks(rec.account), rec.id);
    for (const e of rec.events) multi.srem(k.webhookSubscribers(rec.account, e), rec.id);
    await multi.exec();
  }

  /** Ids of the account's webhooks subscribed to `event`. */
  subscribers(account: string, event: WebhookEventType): Promise<string[]> {
    return this.redis.smembers(this.keys.webhookSubscribers(account, event));
  }

  /** Appends an attempt to the webhook's log (bounded, expiring). */
  async logAttempt(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    const key = this.keys.webhookDeliveries(webhookId);
    await this.redis.multi()
      .lpush(key, JSON.stringify(attempt))
      .ltrim(key, 0, DELIVERY_LOG_MAX - 1)
      .expire(key, DELIVERY_LOG_TTL_SEC)
      .exec();
  }

  /** The webhook's most recent attempts, newest first. */
  async attempts(webhookId: string, limit = DELIVERY_LOG_MAX): Promise<DeliveryAttempt[]> {
    const rows = await this.redis.lrange(this.keys.webhookDeliveries(webhookId), 0, limit - 1);
    return rows.map((r) => JSON.parse(r) as DeliveryAttempt);
  }

  /** Counts a delivery as pending for its account; false when `max` are pending already. */
  async reservePending(account: string, deliveryId: string, max: number, now = Date.now()): Promise<boolean> {
    const res = await RESERVE.run(this.redis, [this.keys.webhookPending(account)], [now, PENDING_MAX_AGE_MS, max, deliveryId]);
    return res === 1;
  }

  /** A delivery succeeded, gave up or was dropped: it no longer counts. */
  async releasePending(account: string, deliveryId: string): Promise<void> {
    await this.redis.zrem(this.keys.webhookPending(account), deliveryId);
  }
}

function serialize(rec: WebhookRecord): Record<string, string> {
  return { id: rec.id, account: rec.account, url: rec.url, events: rec.events.join(','), secret: rec.secret, createdAt: rec.createdAt };
}

function deserialize(h: Record<string, string>): WebhookRecord {
  return {
    id: h.id ?? '', account: h.account ?? '', url: h.url ?? '', secret: h.secret ?? '', createdAt: h.createdAt ?? '',
    events: (h.events ? h.events.split(',') : []) as WebhookEventType[],
  };
}
