import { readFileSync } from 'node:fs';
import { Router, type Response } from 'express';

/** What the dashboard page may load and do: its own origin only, nothing inline, no framing. */
export const DASHBOARD_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

const ASSETS = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
} as const;

/**
 * `/dashboard`: the static page for people (api/dashboard/), public like any static asset — the
 * page itself calls the API with the key pasted into it. Read once at start; served with a
 * strict CSP, `nosniff` and no referrer. Mounted before authentication.
 */
export function dashboardRoutes(): Router {
  const r = Router({ strict: false });
  for (const [path, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(new URL(`../dashboard/${asset.file}`, import.meta.url));
    r.get(path, (_req, res) => send(res, asset.type, body));
  }
  return r;
}

function send(res: Response, type: string, body: Buffer): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(body);
}
