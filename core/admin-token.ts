import jwt from 'jsonwebtoken';

/** Claim that marks an admin token; a session token (other secret, other scope) never passes. */
export const ADMIN_SCOPE = 'admin';
/** Longest lifetime `buntime-admin token` mints, s (30 days; the API's `ADMIN_TOKEN_MAX_TTL` may be lower). */
export const MAX_ADMIN_TTL_SEC = 30 * 86_400;
/** Default of `ADMIN_TOKEN_MAX_TTL`: the longest lifetime the API accepts, s (24 h). */
export const DEFAULT_ADMIN_TOKEN_MAX_TTL_SEC = 86_400;

/**
 * Mints an admin JWT: HS256 with `secret`, `scope: "admin"`, expiring after `ttlSec` seconds
 * (at most `maxTtlSec`, the API's `ADMIN_TOKEN_MAX_TTL`, and never more than 30 days).
 * Used by `buntime-admin token`; any HS256 JWT with these claims and an `exp` works as well.
 */
export function signAdminToken(secret: string, ttlSec: number, maxTtlSec = MAX_ADMIN_TTL_SEC): { token: string; expiresAt: string } {
  const max = Math.min(maxTtlSec, MAX_ADMIN_TTL_SEC);
  if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > max) {
    throw new RangeError(`ttl must be 1-${max} seconds`);
  }
  const exp = Math.floor(Date.now() / 1000) + ttlSec;
  const token = jwt.sign({ scope: ADMIN_SCOPE, sub: 'buntime-admin', exp }, secret, { algorithm: 'HS256' });
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/**
 * True for an HS256 JWT signed with `secret` that has `scope: "admin"`, has not expired and
 * expires within `maxTtlSec` seconds from now. A token without `exp`, with an `exp` further
 * ahead (a leaked token must not live for years), of another algorithm (`none`, RS256, HS512)
 * or another secret is false.
 */
export function verifyAdminToken(secret: string, token: string, maxTtlSec = DEFAULT_ADMIN_TOKEN_MAX_TTL_SEC): boolean {
  try {
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
    if (typeof claims !== 'object' || typeof claims.exp !== 'number' || claims.scope !== ADMIN_SCOPE) return false;
    return claims.exp <= Math.floor(Date.now() / 1000) + maxTtlSec;
  } catch {
    return false;
  }
}
