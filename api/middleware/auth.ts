import type { NextFunction, Request, Response } from 'express';
import { KEY_PATTERN, type AccountStore, type Principal } from '../../core/accounts.ts';
import { BuntimeError } from '../../core/errors.ts';
import type { AuthFailureLimit } from '../auth-failures.ts';
import type { PreviewSite } from '../preview-site.ts';
import type { SessionTokens } from '../session-tokens.ts';
import { ctx } from './request-context.ts';

export interface AuthDeps {
  accounts: AccountStore;
  tokens: SessionTokens;
  failures: AuthFailureLimit;
  site: PreviewSite;
}

/** A credential and where it came from. */
interface Presented {
  credential: string;
  from: 'header' | 'query' | 'cookie';
}

/**
 * Bearer authentication: an API key, or a session token (a JWT, limited to one session by
 * {@link sessionScope}). The key is hashed and looked up on every request (no cache), so a
 * revoked key — and every session token it minted — fails on its very next request on every
 * API instance. Failed attempts are counted per client address ({@link AuthFailureLimit}).
 */
export function bearerAuth(d: AuthDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const presented = presentedOf(req, d.site);
    if (!presented) return next(new BuntimeError('unauthorized', 'missing or malformed Authorization header'));
    try {
      // A browser keeps sending a preview cookie whose token expired: not a guess, not counted.
      const stale = () => presented.from === 'cookie' && d.tokens.expired(presented.credential);
      const principal = await d.failures.guard(req.ip ?? '', () => authenticate(d, presented), stale);
      if (!principal) return next(refusal(presented));
      ctx(res).principal = principal;
      if (presented.from === 'query') ctx(res).previewToken = presented.credential;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * The credential of a request: the `Authorization` header; on a preview request (a browser
 * cannot send a header there) also a session token as `?token=` (first page) or in the preview
 * cookie (the page's own requests, see routes/preview).
 */
function presentedOf(req: Request, site: PreviewSite): Presented | undefined {
  const header = bearerOf(req);
  if (header) return { credential: header, from: 'header' };
  if (!site.isPreviewRequest(req)) return undefined;
  if (typeof req.query.token === 'string') return { credential: req.query.token, from: 'query' };
  const cookie = site.cookieOf(req);
  return cookie ? { credential: cookie, from: 'cookie' } : undefined;
}

/** The credential of an `Authorization: Bearer <credential>` header. */
export function bearerOf(req: Request): string | undefined {
  return req.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

function authenticate(d: AuthDeps, p: Presented): Promise<Principal | undefined> {
  if (KEY_PATTERN.test(p.credential)) {
    // A key in a URL ends up in histories, logs and Referer headers, and one stored in the
    // preview cookie would ride along with every request of a page user code wrote.
    return p.from === 'header' ? d.accounts.authenticate(p.credential) : Promise.resolve(undefined);
  }
  if (p.credential.split('.').length === 3) return d.tokens.authenticate(p.credential);
  return Promise.resolve(undefined);
}

function refusal(p: Presented): BuntimeError {
  if (p.from !== 'header' && KEY_PATTERN.test(p.credential)) {
    return new BuntimeError('unauthorized', 'an API key is accepted only in the Authorization header; use a session token in ?token=');
  }
  return new BuntimeError('unauthorized', 'invalid API key or session token');
}
