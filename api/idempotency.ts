import { createHash, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { boundResult } from '../core/bounded-result.ts';
import { BuntimeError } from '../core/errors.ts';
import type { Keys } from '../core/redis.ts';
import { RedisScript } from '../core/redis-script.ts';
import { RECORD_OVERHEAD_BYTES, STORED_BYTES_LUA } from '../core/stored-bytes.ts';
import { ctx } from './middleware/request-context.ts';

/** A response as first given, replayed for a repeated key. */
export interface Outcome {
  status: number;
  body: unknown;
  replayed: boolean;
}

export interface IdempotencyOptions {
  /** How long a finished response is replayed, ms. Default 24 h. */
  retainMs: number;
  /** Lease of a request in flight, renewed while it runs; a crashed leader's lapses, ms. */
  leaseMs: number;
  /** Longest a duplicate waits for the first request to finish before a 409, ms. */
  maxWaitMs: number;
  /**
   * Most bytes of a response kept for replays (JSON); a larger execution result is stored with
   * its output cut and flagged (core/bounded-result.ts), never dropped. Default 64 KiB.
   */
  maxBytes: number;
}

const DEFAULTS: IdempotencyOptions = { retainMs: 86_400_000, leaseMs: 30_000, maxWaitMs: 15 * 60_000, maxBytes: 65_536 };
const KEY_HEADER = /^[\x21-\x7e]{1,255}$/;

// Compare-and-set on the pending record, so only the request that holds it finishes or drops it.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
// Finishing also counts the record against the account's stored bytes until it lapses.
const FINISH = new RedisScript(`${STORED_BYTES_LUA}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local now = stored_now()
stored_add(KEYS[2], now, now + tonumber(ARGV[3]), #ARGV[2] + #KEYS[1] + ${RECORD_OVERHEAD_BYTES})
return 1`);
const DROP = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Rec = { s: 'pending'; h: string; o: string } | { s: 'done'; h: string; status: number; body: unknown };

/**
 * `Idempotency-Key` for one account and route: the first request with a key takes it with
 * SET NX and runs; duplicates with the same body wait for it and replay its response; a
 * different body is `idempotency_conflict`. Only successes are kept: an error drops the key,
 * so a retry runs again. A replay keeps at most `maxBytes` of the response: every field of an
 * execution result, its output cut and flagged beyond that (the first answer is whole).
 */
export class Idempotency {
  private readonly opts: IdempotencyOptions;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    opts: Partial<IdempotencyOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** Runs `fn` once per (`account`, `scope`, `key`); without a key it simply runs. */
  async run(account: string, scope: string, key: string | undefined, body: unknown, fn: () => Promise<unknown>): Promise<Outcome> {
    if (key === undefined) return { status: 200, body: await fn(), replayed: false };
    const rkey = this.keys.idempotency(account, scope, sha256(key));
    const hash = bodyHash(body);
    const deadline = Date.now() + this.opts.maxWaitMs;
    for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
      const mine: Rec = { s: 'pending', h: hash, o: randomUUID() };
      if (await this.redis.set(rkey, JSON.stringify(mine), 'PX', this.opts.leaseMs, 'NX')) return this.lead(account, rkey, mine, fn);
      const rec = parseRec(await this.redis.get(rkey));
      if (!rec) continue;
      if (rec.h !== hash) throw conflict('this Idempotency-Key was used with a different request body');
      if (rec.s === 'done') return { status: rec.status, body: rec.body, replayed: true };
      if (Date.now() > deadline) throw conflict('a request with this Idempotency-Key is still in progress');
      await sleep(wait);
    }
  }

  private async lead(account: string, rkey: string, mine: Rec, fn: () => Promise<unknown>): Promise<Outcome> {
    const pending = JSON.stringify(mine);
    const timer = setInterval(() => {
      void this.redis.eval(RENEW, 1, rkey, pending, this.opts.leaseMs).catch(() => {});
    }, this.opts.leaseMs / 3);
    try {
      const body = await fn();
      const done: Rec = { s: 'done', h: mine.h, status: 200, body: boundResult(body, this.opts.maxBytes) };
      await FINISH.run(this.redis, [rkey, this.keys.storedBytes(account, 'idempotency')],
        [pending, JSON.stringify(done), this.opts.retainMs]).catch(() => {});
      return { status: 200, body, replayed: false };
    } catch (err) {
      await this.redis.eval(DROP, 1, rkey, pending).catch(() => {});
      throw err;
    } finally {
      clearInterval(timer);
    }
  }
}

/**
 * Answers a route through {@link Idempotency}: the caller's account, the `Idempotency-Key`
 * header and the JSON body as sent. A replay carries `Idempotent-Replayed: true`.
 */
export async function sendIdempotent(req: Request, res: Response, idem: Idempotency, scope: string, fn: () => Promise<unknown>): Promise<void> {
  const key = idempotencyKey(req.header('idempotency-key'));
  const out = await idem.run(ctx(res).principal!.account, scope, key, req.body ?? {}, fn);
  if (out.replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(out.status).json(out.body);
}

/** Validates an `Idempotency-Key` header: 1–255 visible ASCII characters, or absent. */
export function idempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!KEY_HEADER.test(value)) {
    throw new BuntimeError('invalid_request', 'Idempotency-Key must be 1-255 visible ASCII characters', {
      details: { field: 'Idempotency-Key' },
    });
  }
  return value;
}

/** SHA-256 of the canonical JSON of a body: the same for the same content, whatever its key order. */
export function bodyHash(body: unknown): string {
  return sha256(canonicalJson(body));
}

/** JSON with object keys sorted at every depth; `undefined` members are left out as JSON does. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function parseRec(raw: string | null): Rec | undefined {
  return raw ? (JSON.parse(raw) as Rec) : undefined;
}

function conflict(message: string): BuntimeError {
  return new BuntimeError('idempotency_conflict', message, { details: { field: 'Idempotency-Key' } });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
