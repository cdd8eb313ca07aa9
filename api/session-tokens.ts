import { hkdfSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import type { AccountStore, Principal } from '../core/accounts.ts';
import type { Config } from '../core/config.ts';
import type { Keys } from '../core/redis.ts';
import type { SessionRecord } from '../core/session-store.ts';

const AUDIENCE = 'buntime:session';
const SCOPE = 'session';
/** Lifetime of a session token unless the caller asks otherwise, s. */
export const SESSION_TOKEN_DEFAULT_TTL = 900;
/** Longest lifetime a session token can have, s. */
export const SESSION_TOKEN_MAX_TTL = 3600;

/**
 * Short-lived HS256 JWTs scoped to one session (`sub` = session id, `account`, `scope`, and
 * the id of the key that minted it). A token is worth no more than its key: it fails as soon
 * as that key is revoked, and it is metered and rate-limited as that key.
 */
export class SessionTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly accounts: AccountStore,
    private readonly sessions: { owned(who: Principal, sessionId: string): Promise<SessionRecord> },
  ) {}

  /** Mints a token for the caller's own session, valid `ttlSec` seconds but never past the session. */
  async mint(who: Principal, sessionId: string, ttlSec = SESSION_TOKEN_DEFAULT_TTL): Promise<{ token: string; expiresAt: string }> {
    const rec = await this.sessions.owned(who, sessionId);
    const exp = Math.floor(Math.min(Date.now() + ttlSec * 1000, rec.expiresAt) / 1000);
    const claims = { scope: SCOPE, account: who.account, keyId: who.keyId, sub: rec.sessionId, aud: AUDIENCE, exp };
    return { token: jwt.sign(claims, this.secret, { algorithm: 'HS256' }), expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** The principal a token stands for, limited to its session; undefined for any bad token. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const c = this.verify(token);
    if (!c) return undefined;
    const principal = await this.accounts.principalOf(c.keyId);
    if (!principal || principal.account !== c.account) return undefined;
    return { ...principal, session: c.sub };
  }

  /**
   * True for a token this service signed that has merely expired: a browser's stale preview
   * cookie, not a guess (the failed-authentication limit does not count it).
   */
  expired(token: string): boolean {
    try {
      jwt.verify(token, this.secret, { algorithms: ['HS256'], audience: AUDIENCE, ignoreExpiration: true });
      return this.verify(token) === undefined;
    } catch {
      return false;
    }
  }

  private verify(token: string): { sub: string; account: string; keyId: string } | undefined {
    try {
      const c = jwt.verify(token, this.secret, { algorithms: ['HS256'], audience: AUDIENCE });
      if (typeof c !== 'object' || typeof c.exp !== 'number' || c.scope !== SCOPE) return undefined;
      const { sub, account, keyId } = c as Record<string, unknown>;
      if (typeof sub !== 'string' || typeof account !== 'string' || typeof keyId !== 'string') return undefined;
      return { sub, account, keyId };
    } catch {
      return undefined;
    }
  }
}

/** When a token (already verified) expires, epoch ms; undefined when it says nothing. */
export function tokenExpiresAt(token: string): number | undefined {
  const claims = jwt.decode(token);
  return typeof claims === 'object' && claims !== null && typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
}

/**
 * The key session tokens are signed with, the same on every API instance: `SESSION_TOKEN_SECRET`
 * when set; else derived from `ADMIN_JWT_SECRET` (HKDF-SHA256, so neither reveals the other);
 * else a random key created once in Redis under the prefix.
 */
export async function sessionTokenSecret(cfg: Config, redis: Redis, keys: Keys): Promise<Buffer> {
  if (cfg.SESSION_TOKEN_SECRET) return Buffer.from(cfg.SESSION_TOKEN_SECRET, 'utf8');
  if (cfg.ADMIN_JWT_SECRET) {
    return Buffer.from(hkdfSync('sha256', cfg.ADMIN_JWT_SECRET, `buntime:${cfg.REDIS_PREFIX}`, 'session-token', 32));
  }
  const key = keys.secret('session-token');
  await redis.set(key, randomBytes(32).toString('base64'), 'NX');
  const stored = await redis.get(key);
  if (!stored) throw new Error('could not read the session-token secret from Redis');
  return Buffer.from(stored, 'base64');
}
