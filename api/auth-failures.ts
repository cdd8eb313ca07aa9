import type { Redis } from 'ioredis';
import { BuntimeError } from '../core/errors.ts';
import type { Keys } from '../core/redis.ts';
import { RedisScript } from '../core/redis-script.ts';

/** Length of a client address's failure window, counted from its first failure, ms. */
const WINDOW_MS = 60_000;

// Counts one failure (the first opens the address's window); returns the count and the ms left.
const FAIL = new RedisScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`);

// How long the address must wait (ms), or 0 while it is under the limit.
const WAIT = new RedisScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 0 end
return ttl`);

/**
 * Failed authentications per client address (`req.ip`, so `TRUST_PROXY` decides what the
 * address is): at most `perMinute` in a window that opens with an address's first failure and
 * lasts a minute. Past it every failure from the address gets a 429 until the window closes.
 * A credential that checks out is never slowed or refused by this: the limit costs Redis work
 * only on failures. (A key is 40 random base62 characters, so guessing one is hopeless anyway:
 * what this bounds is the load and the noise of trying, and how fast a leaked-but-mistyped
 * credential can be probed.)
 */
export class AuthFailureLimit {
  /** @param perMinute failures an address may make per window; 0 turns the limit off */
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly perMinute: number,
  ) {}

  /**
   * Runs a credential check for a request from `address`: the check's result when it found the
   * credential; a miss is counted as a failure (unless `excused` says it was no guess: an
   * expired token of ours) and answered 429 once the address is over its limit.
   */
  async guard<T>(address: string, check: () => Promise<T | undefined>, excused = () => false): Promise<T | undefined> {
    const found = await check();
    if (found !== undefined) return found;
    if (excused()) {
      const waitSec = await this.retryAfterSec(address);
      if (waitSec > 0) throw this.tooMany(waitSec);
      return found;
    }
    // Counted and judged in one step, so parallel failures cannot all slip under the limit.
    const over = await this.failed(address);
    if (over > 0) throw this.tooMany(over);
    return undefined;
  }

  /** Seconds `address` must wait before it may authenticate again; 0 when it may now. */
  private async retryAfterSec(address: string): Promise<number> {
    if (this.perMinute === 0) return 0;
    const ms = Number(await WAIT.run(this.redis, [this.keys.authFailures(address)], [this.perMinute]));
    return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : 0;
  }

  /**
   * Counts one failed authentication of `address`; returns the seconds it must now wait when
   * this failure took it past the limit, else 0.
   */
  private async failed(address: string): Promise<number> {
    if (this.perMinute === 0) return 0;
    const [n, ttl] = (await FAIL.run(this.redis, [this.keys.authFailures(address)], [WINDOW_MS])) as [number, number];
    return n > this.perMinute ? Math.max(1, Math.ceil(ttl / 1000)) : 0;
  }

  private tooMany(retryAfterSec: number): BuntimeError {
    return new BuntimeError('rate_limit_exceeded', 'too many failed authentications from this address', {
      details: { limit: this.perMinute, windowSeconds: WINDOW_MS / 1000, reason: 'authentication_failures' }, retryAfterSec,
    });
  }
}
