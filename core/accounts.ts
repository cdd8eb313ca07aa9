import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BuntimeError } from './errors.ts';
import { isPlanName, type PlanName } from './plans.ts';
import type { Keys } from './redis.ts';
import { RedisScript } from './redis-script.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** The only shape a key can have: `btk_` + 40 base62 characters. */
export const KEY_PATTERN = /^btk_[0-9A-Za-z]{40}$/;
const ACCOUNT_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/i;
/** `lastUsedAt` is refreshed at most this often, ms: one write per key a minute, not per request. */
const LAST_USED_PRECISION_MS = 60_000;

// Key hash -> key record -> account plan in one round trip (the hot path of every request).
// ARGV holds the key-name prefixes of key records and accounts.
const LOOKUP = new RedisScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local k = redis.call('HMGET', ARGV[1] .. id, 'hash', 'account', 'revokedAt', 'lastUsedAt')
if not k[1] or not k[2] then return false end
local plan = redis.call('HGET', ARGV[2] .. k[2], 'plan')
return {id, k[1], k[2], k[3] or '', k[4] or '', plan or ''}`);

export interface Account {
  name: string;
  plan: PlanName;
  createdAt: string;
}

/** A key as stored: never the key itself, only its hash. */
export interface KeyInfo {
  id: string;
  account: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** A key that authenticated a request: who it is and on which plan. */
export interface Principal {
  keyId: string;
  account: string;
  plan: PlanName;
  /**
   * Set when the request came with a session token instead of the key: the one session it may
   * read. Unset for the key itself.
   */
  session?: string;
}

export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Accounts and their API keys in Redis. Keys are stored as SHA-256 hashes only. */
export class AccountStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async createAccount(name: string, plan: string): Promise<Account> {
    if (!ACCOUNT_PATTERN.test(name)) throw invalid('account name must be 1-63 of [A-Za-z0-9_.-]', 'name');
    if (!isPlanName(plan)) throw invalid(`unknown plan ${plan}`, 'plan');
    const account: Account = { name, plan, createdAt: new Date().toISOString() };
    const created = await this.redis.hsetnx(this.keys.account(name), 'name', name);
    if (created === 0) throw invalid(`account ${name} exists`, 'name');
    await this.redis.multi()
      .hset(this.keys.account(name), { plan, createdAt: account.createdAt })
      .sadd(this.keys.accounts(), name)
      .exec();
    return account;
  }

  async getAccount(name: string): Promise<Account | undefined> {
    const h = await this.redis.hgetall(this.keys.account(name));
    if (!h.name || !isPlanName(h.plan)) return undefined;
    return { name: h.name, plan: h.plan, createdAt: h.createdAt ?? '' };
  }

  async listAccounts(): Promise<Account[]> {
    const names = (await this.redis.smembers(this.keys.accounts())).sort();
    const all = await Promise.all(names.map((n) => this.getAccount(n)));
    return all.filter((a): a is Account => a !== undefined);
  }

  async setPlan(name: string, plan: string): Promise<Account> {
    if (!isPlanName(plan)) throw invalid(`unknown plan ${plan}`, 'plan');
    await this.requireAccount(name);
    await this.redis.hset(this.keys.account(name), 'plan', plan);
    return (await this.getAccount(name))!;
  }

  /** Creates a key; the returned `key` is the only time it exists in clear. */
  async createKey(account: string, label = ''): Promise<{ key: string; info: KeyInfo; plan: PlanName }> {
    const acc = await this.requireAccount(account);
    const key = `btk_${randomBase62(40)}`;
    const info: KeyInfo = {
      id: `key_${randomBytes(8).toString('hex')}`, account, label,
      createdAt: new Date().toISOString(), lastUsedAt: null, revokedAt: null,
    };
    const hash = hashKey(key);
    await this.redis.multi()
      .hset(this.keys.keyById(info.id), { ...stringify(info), hash })
      .set(this.keys.keyByHash(hash), info.id)
      .sadd(this.keys.accountKeys(account), info.id)
      .exec();
    return { key, info, plan: acc.plan };
  }

  async listKeys(account: string): Promise<KeyInfo[]> {
    await this.requireAccount(account);
    const ids = await this.redis.smembers(this.keys.accountKeys(account));
    const infos = await Promise.all(ids.map((id) => this.keyInfo(id)));
    return infos.filter((k): k is KeyInfo => k !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Revokes a key; takes effect on the very next request (nothing caches keys). */
  async revokeKey(id: string): Promise<KeyInfo> {
    const info = await this.keyInfo(id);
    if (!info) throw new BuntimeError('not_found', `no key ${id}`, { details: { id } });
    if (!info.revokedAt) await this.redis.hset(this.keys.keyById(id), 'revokedAt', new Date().toISOString());
    return (await this.keyInfo(id))!;
  }

  /** The principal of a presented key, or undefined for a malformed, unknown or revoked one. */
  async authenticate(key: string): Promise<Principal | undefined> {
    if (!KEY_PATTERN.test(key)) return undefined;
    const hash = hashKey(key);
    const row = (await LOOKUP.run(this.redis, [this.keys.keyByHash(hash)],
      [this.keys.keyById(''), this.keys.account('')])) as string[] | null;
    if (!row) return undefined;
    const [id = '', stored = '', account = '', revokedAt, lastUsedAt = '', plan] = row;
    if (revokedAt || !safeEqual(stored, hash) || !isPlanName(plan)) return undefined;
    if (!(Date.now() - Date.parse(lastUsedAt) < LAST_USED_PRECISION_MS)) {
      void this.redis.hset(this.keys.keyById(id), 'lastUsedAt', new Date().toISOString()).catch(() => {});
    }
    return { keyId: id, account, plan };
  }

  /**
   * The principal of key `id` as it is now (current plan), or undefined when the key is unknown
   * or revoked or its account is gone. With `hash`, the stored hash must match it too.
   */
  async principalOf(id: string, hash?: string): Promise<Principal | undefined> {
    const h = await this.redis.hgetall(this.keys.keyById(id));
    if (!h.hash || h.revokedAt || (hash !== undefined && !safeEqual(h.hash, hash))) return undefined;
    const acc = await this.getAccount(h.account ?? '');
    if (!acc) return undefined;
    return { keyId: id, account: acc.name, plan: acc.plan };
  }

  private async keyInfo(id: string): Promise<KeyInfo | undefined> {
    const h = await this.redis.hgetall(this.keys.keyById(id));
    if (!h.id) return undefined;
    return {
      id: h.id, account: h.account ?? '', label: h.label ?? '', createdAt: h.createdAt ?? '',
      lastUsedAt: h.lastUsedAt || null, revokedAt: h.revokedAt || null,
    };
  }

  private async requireAccount(name: string): Promise<Account> {
    const acc = await this.getAccount(name);
    if (!acc) throw new BuntimeError('not_found', `no account ${name}`, { details: { account: name } });
    return acc;
  }
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

function stringify(info: KeyInfo): Record<string, string> {
  return {
    id: info.id, account: info.account, label: info.label, createdAt: info.createdAt,
    lastUsedAt: info.lastUsedAt ?? '', revokedAt: info.revokedAt ?? '',
  };
}

function invalid(message: string, field: string): BuntimeError {
  return new BuntimeError('invalid_request', message, { details: { field } });
}
