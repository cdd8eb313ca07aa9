import { pipeline } from 'node:stream/promises';
import { Router, type Request } from 'express';
import { PREVIEW_COOKIE } from '../middleware/auth.ts';
import { ctx } from '../middleware/request-context.ts';
import type { WorkspaceService } from '../workspace-service.ts';

/** Request headers that describe this hop or our own credentials, never the session's server. */
const NOT_FORWARDED = new Set(['host', 'authorization', 'cookie', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade']);
/** Response headers of the session's server that belong to its hop, not to the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
/** How long the preview cookie set from a `?token=` lives, s (a session token lives ≤ 1 h). */
const COOKIE_MAX_AGE_SEC = 3600;

/**
 * `/preview/{sessionId}/…`: every method, relayed to the server user code runs on `port` in the
 * session (`previewUrl` of a session), request and answer streamed both ways. Opened with
 * `?token=<session token>`, it sets a cookie scoped to that session's preview path so the page's
 * own requests authenticate too.
 */
export function previewRoutes(ws: WorkspaceService, port: number): Router {
  const r = Router();
  r.all('/preview/:sessionId{/*rest}', async (req, res) => {
    const sessionId = String(req.params.sessionId);
    const out = await ws.preview(ctx(res).principal!, sessionId, {
      port, method: req.method, path: upstreamPath(req), headers: forwarded(req), body: req,
    });
    if (typeof req.query.token === 'string') {
      res.cookie(PREVIEW_COOKIE, req.query.token, {
        path: `/preview/${sessionId}/`, httpOnly: true, sameSite: 'lax', maxAge: COOKIE_MAX_AGE_SEC * 1000,
      });
    }
    res.status(out.status);
    for (const [k, v] of Object.entries(out.headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) res.setHeader(k, v);
    await pipeline(out.body, res).catch(() => res.destroy());
  });
  return r;
}

/** The path below the session's preview root, with the query minus our `token`. */
function upstreamPath(req: Request): string {
  const url = new URL(req.originalUrl, 'http://preview');
  url.searchParams.delete('token');
  const rest = url.pathname.replace(/^\/preview\/[^/]+/i, '') || '/';
  return `${rest}${url.search}`;
}

function forwarded(req: Request): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined && !NOT_FORWARDED.has(k)) out[k] = v;
  }
  return out;
}
