import { pipeline } from 'node:stream/promises';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { BuntimeError } from '../../core/errors.ts';
import { requestHeaders, responseHeaders, type PreviewMode } from '../preview-headers.ts';
import type { PreviewSite } from '../preview-site.ts';
import { tokenExpiresAt } from '../session-tokens.ts';
import { ctx } from '../middleware/request-context.ts';
import type { WorkspaceService } from '../workspace-service.ts';

export interface PreviewDeps {
  workspace: WorkspaceService;
  site: PreviewSite;
  /** Port inside a session that its preview reaches. */
  port: number;
  /** The session a preview id stands for (host mode). */
  sessionOfPreview: (previewId: string) => Promise<string | undefined>;
}

/**
 * Path mode, `/preview/{sessionId}/…`: every method, relayed to the server user code runs on
 * the preview port in the session, request and answer streamed both ways. Opened with
 * `?token=<session token>`, it sets a cookie scoped to that session's preview path so the
 * page's own requests authenticate too. With `PREVIEW_DOMAIN` set, previews live on their own
 * origins ({@link previewHostRoutes}) and this path answers 404.
 */
export function previewRoutes(d: PreviewDeps): Router {
  const r = Router();
  r.all('/preview/:sessionId{/*rest}', async (req, res) => {
    if (d.site.hostMode) throw new BuntimeError('not_found', 'previews are served on their own origins; see the session\'s previewUrl');
    const sessionId = String(req.params.sessionId);
    const prefix = `/preview/${sessionId}`;
    const rest = new URL(req.originalUrl, 'http://preview').pathname.replace(/^\/preview\/[^/]+/i, '');
    await relay(d, req, res, { sessionId, mode: { kind: 'path', prefix }, path: rest });
  });
  return r;
}

/**
 * Host mode, `{previewId}.PREVIEW_DOMAIN`: every request to that host is the preview of the
 * session the id stands for — nothing of the API is served there. Runs after authentication
 * (`auth`: the chain that finds the principal and meters it).
 */
export function previewHostRoutes(d: PreviewDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const previewId = d.site.hostPreviewId(req) ?? '';
      const sessionId = previewId ? await d.sessionOfPreview(previewId) : undefined;
      if (!sessionId) throw new BuntimeError('not_found', 'no such preview');
      const { session } = ctx(res).principal!;
      if (session !== undefined && session !== sessionId) {
        throw new BuntimeError('forbidden', 'a session token opens only its own session\'s preview');
      }
      await relay(d, req, res, { sessionId, mode: { kind: 'host' }, path: new URL(req.originalUrl, 'http://preview').pathname });
    } catch (err) {
      next(err);
    }
  };
}

/** One exchange with the session's server; `path` is the path below the preview's root. */
async function relay(d: PreviewDeps, req: Request, res: Response, to: { sessionId: string; mode: PreviewMode; path: string }) {
  const { sessionId, mode, path } = to;
  const out = await d.workspace.preview(ctx(res).principal!, sessionId, {
    port: d.port, method: req.method, path: `${path || '/'}${queryWithoutToken(req)}`, headers: requestHeaders(req.headers), body: req,
  });
  res.status(out.status);
  for (const [k, v] of Object.entries(responseHeaders(out.headers, mode))) {
    if (k === 'set-cookie') res.append(k, v);
    else res.setHeader(k, v);
  }
  const token = ctx(res).previewToken;
  if (token) res.cookie(d.site.cookieName, token, d.site.cookieOptions(sessionId, tokenExpiresAt(token)));
  await pipeline(out.body, res).catch(() => res.destroy());
}

/** The query string minus our own `token`, as the session's server should see it. */
function queryWithoutToken(req: Request): string {
  const url = new URL(req.originalUrl, 'http://preview');
  if (!url.searchParams.has('token')) return url.search;
  url.searchParams.delete('token');
  return url.search;
}
