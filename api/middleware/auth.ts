import type { NextFunction, Request, Response } from 'express';
import type { AccountStore } from '../../core/accounts.ts';
import { BuntimeError } from '../../core/errors.ts';
import { ctx } from './request-context.ts';

/**
 * Bearer-key authentication. The key is hashed and looked up on every request (no cache), so a
 * revoked key fails on its very next request on every API instance.
 */
export function bearerAuth(accounts: AccountStore) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match?.[1]) return next(new BuntimeError('unauthorized', 'missing or malformed Authorization header'));
    try {
      const principal = await accounts.authenticate(match[1]);
      if (!principal) return next(new BuntimeError('unauthorized', 'invalid API key'));
      ctx(res).principal = principal;
      next();
    } catch (err) {
      next(err);
    }
  };
}
