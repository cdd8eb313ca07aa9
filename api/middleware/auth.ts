import type { NextFunction, Request, Response } from 'express';
import { KEY_PATTERN, type AccountStore, type Principal } from '../../core/accounts.ts';
import { BuntimeError } from '../../core/errors.ts';
import type { SessionTokens } from '../session-tokens.ts';
import { ctx } from './request-context.ts';

/**
 * Bearer authentication: an API key, or a session token (a JWT, limited to one session by
 * {@link sessionScope}). The key is hashed and looked up on every request (no cache), so a
 * revoked key — and every session token it minted — fails on its very next request on every
 * API instance.
 */
export function bearerAuth(accounts: AccountStore, tokens: SessionTokens) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const presented = bearerOf(req) ?? previewCredential(req);
    if (!presented) return next(new BuntimeError('unauthorized', 'missing or malformed Authorization header'));
    try {
      const principal = await authenticate(accounts, tokens, presented);
      if (!principal) return next(new BuntimeError('unauthorized', 'invalid API key or session token'));
      ctx(res).principal = principal;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Cookie a preview page's own requests carry its session token in (scoped to its path). */
export const PREVIEW_COOKIE = 'buntime_preview';

/**
 * A browser opening a preview URL cannot send a header: there, a session token may come as
 * `?token=` (first page) or in the preview cookie (the page's own requests, see routes/preview).
 */
function previewCredential(req: Request): string | undefined {
  if (!/^\/preview\//i.test(req.path)) return undefined;
  if (typeof req.query.token === 'string') return req.query.token;
  return new RegExp(`(?:^|;\\s*)${PREVIEW_COOKIE}=([^;]+)`).exec(req.headers.cookie ?? '')?.[1];
}

/** The credential of an `Authorization: Bearer <credential>` header. */
export function bearerOf(req: Request): string | undefined {
  return req.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

function authenticate(accounts: AccountStore, tokens: SessionTokens, presented: string): Promise<Principal | undefined> {
  if (KEY_PATTERN.test(presented)) return accounts.authenticate(presented);
  if (presented.split('.').length === 3) return tokens.authenticate(presented);
  return Promise.resolve(undefined);
}
