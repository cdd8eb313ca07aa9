import jwt from 'jsonwebtoken';

/** Claim that marks an admin token; a session token (other secret, other scope) never passes. */
export const ADMIN_SCOPE = 'admin';
/** Longest lifetime `buntime-admin token` mints, s (30 days). */
export const MAX_ADMIN_TTL_SEC = 30 * 86_400;

/**
 * Mints an admin JWT: HS256 with `secret`, `scope: "admin"`, expiring after `ttlSec` seconds.
 * Used by `buntime-admin token`; any HS256 JWT with these claims and an `exp` works as well.
 */
export function signAdminToken(secret: string, ttlSec: number): { token: string; expiresAt: string } {
  if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > MAX_ADMIN_TTL_SEC) {
    throw new RangeError(`ttl must be 1-${MAX_ADMIN_TTL_SEC} seconds`);
  }
  const exp = Math.floor(Date.now() / 1000) + ttlSec;
  const token = jwt.sign({ scope: ADMIN_SCOPE, sub: 'buntime-admin', exp }, secret, { algorithm: 'HS256' });
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/**
 * True for an HS256 JWT signed with `secret` that has `scope: "admin"` and has not expired.
 * A token without `exp`, of another algorithm (`none`, RS256, HS512) or another secret is false.
 */
export function verifyAdminToken(secret: string, token: string): boolean {
  try {
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
    return typeof claims === 'object' && typeof claims.exp === 'number' && claims.scope === ADMIN_SCOPE;
  } catch {
    return false;
  }
}
