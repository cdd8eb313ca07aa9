import type { CookieOptions, Request } from 'express';
import { previewIdOf } from '../core/session-store.ts';

/** Cookie a preview page's own requests carry its session token in. */
export const PREVIEW_COOKIE = 'buntime_preview';
/**
 * The same on https preview origins: browsers accept a `__Host-` cookie only without `Domain`,
 * with `Path=/` and `Secure`, so a sibling preview can neither set nor shadow it.
 */
export const HOST_PREVIEW_COOKIE = '__Host-buntime_preview';
/** Longest life of the preview cookie set from a `?token=`, s (a session token lives ≤ 1 h). */
const COOKIE_MAX_AGE_SEC = 3600;

export interface PreviewSiteOptions {
  /** `PREVIEW_DOMAIN` (`host[:port]`); unset, previews are served under /preview/ of the API. */
  domain: string | undefined;
  /** `PREVIEW_SCHEME` of preview origins. */
  scheme: 'https' | 'http';
  /** Base URL of the API (path mode). */
  publicUrl: () => string;
}

/**
 * Where previews are served. With `PREVIEW_DOMAIN`, each session's preview has an origin of its
 * own, `{previewId}.PREVIEW_DOMAIN`, told apart by the request's `Host` (`X-Forwarded-Host`
 * behind a trusted proxy); nothing else is served on that domain. Without it, previews live
 * under `/preview/{sessionId}/` of the API's origin (path mode), fenced off by the response
 * policy of `preview-headers.ts`.
 */
export class PreviewSite {
  private readonly hostname: string | undefined;

  constructor(private readonly o: PreviewSiteOptions) {
    this.hostname = o.domain?.replace(/:\d+$/, '');
  }

  /** True when previews have origins of their own. */
  get hostMode(): boolean {
    return this.hostname !== undefined;
  }

  /** The preview URL of a session (ends with `/`). */
  urlOf(sessionId: string): string {
    if (this.o.domain) return `${this.o.scheme}://${previewIdOf(sessionId)}.${this.o.domain}/`;
    return `${this.o.publicUrl()}/preview/${sessionId}/`;
  }

  /**
   * For a request to the preview domain: the preview id its host names (`''` when the host is
   * the domain itself or names nothing of ours). Undefined for every other request.
   */
  hostPreviewId(req: Request): string | undefined {
    if (!this.hostname) return undefined;
    const host = (req.hostname ?? '').toLowerCase().replace(/\.$/, '');
    if (host === this.hostname) return '';
    if (!host.endsWith(`.${this.hostname}`)) return undefined;
    const label = host.slice(0, -this.hostname.length - 1);
    return label.includes('.') ? '' : label;
  }

  /** True for a request to a preview, in either mode (where a token may come as `?token=` or cookie). */
  isPreviewRequest(req: Request): boolean {
    if (this.hostMode) return this.hostPreviewId(req) !== undefined;
    return /^\/preview\//i.test(req.path);
  }

  /** Name of the cookie the preview token travels in. */
  get cookieName(): string {
    return this.hostMode && this.o.scheme === 'https' ? HOST_PREVIEW_COOKIE : PREVIEW_COOKIE;
  }

  /**
   * How the preview cookie of `sessionId` is set: confined to its origin or to its path, and
   * gone when its token expires (`expiresAt`, epoch ms) so a browser does not keep sending it.
   */
  cookieOptions(sessionId: string, expiresAt?: number): CookieOptions {
    const left = expiresAt === undefined ? COOKIE_MAX_AGE_SEC * 1000 : expiresAt - Date.now();
    const maxAge = Math.max(0, Math.min(COOKIE_MAX_AGE_SEC * 1000, left));
    const base: CookieOptions = { httpOnly: true, sameSite: 'lax', maxAge };
    if (this.hostMode) return { ...base, path: '/', secure: this.o.scheme === 'https' };
    return { ...base, path: `/preview/${sessionId}/` };
  }

  /** The preview token a request's cookies carry, if any. */
  cookieOf(req: Request): string | undefined {
    return cookieValue(req.headers.cookie, this.cookieName);
  }
}

/** The value of the first cookie called `name` in a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
