import type { NextFunction, Request, Response } from 'express';
import { BuntimeError } from '../../core/errors.ts';
import { verifyAdminToken } from '../../core/admin-token.ts';
import type { AuthFailureLimit } from '../auth-failures.ts';
import { bearerOf } from './auth.ts';

/**
 * Guards `/admin/*` with an admin JWT (HS256, `ADMIN_JWT_SECRET`, `exp` required, at most
 * `maxTtlSec` ahead). Without a configured secret every admin request is refused: there is no
 * way in by default. A token that does not verify counts as a failed authentication of the
 * client's address.
 */
export function adminAuth(secret: string | undefined, maxTtlSec: number, failures: AuthFailureLimit) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerOf(req);
    if (!secret) return next(new BuntimeError('unauthorized', 'the admin API is not enabled (ADMIN_JWT_SECRET is unset)'));
    if (!token) return next(new BuntimeError('unauthorized', 'missing, invalid or expired admin token'));
    try {
      const ok = await failures.guard(req.ip ?? '', async () => (verifyAdminToken(secret, token, maxTtlSec) ? true : undefined));
      next(ok ? undefined : new BuntimeError('unauthorized', 'missing, invalid or expired admin token'));
    } catch (err) {
      next(err);
    }
  };
}
