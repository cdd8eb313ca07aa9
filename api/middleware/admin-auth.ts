import type { NextFunction, Request, Response } from 'express';
import { BuntimeError } from '../../core/errors.ts';
import { verifyAdminToken } from '../../core/admin-token.ts';
import { bearerOf } from './auth.ts';

/**
 * Guards `/admin/*` with an admin JWT (HS256, `ADMIN_JWT_SECRET`, `exp` required). Without a
 * configured secret every admin request is refused: there is no way in by default.
 */
export function adminAuth(secret: string | undefined) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerOf(req);
    if (secret && token && verifyAdminToken(secret, token)) return next();
    next(new BuntimeError('unauthorized', secret ? 'missing, invalid or expired admin token' : 'the admin API is not enabled (ADMIN_JWT_SECRET is unset)'));
  };
}
