import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { route } from '../route-table.ts';

/** What the reference page may load and do: its own origin only, nothing inline, no framing. */
export const DOCS_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

/** `GET /openapi.json`: the document built from the route table (deps.openapi). */
export const openApiRoutes = [
  route({
    method: 'get', path: '/openapi.json', operationId: 'openapi', tag: 'Service', auth: [],
    summary: 'This document',
    description: 'OpenAPI 3.1, generated from the same route table and zod schemas the API mounts and validates with.',
    ok: { status: 200, description: 'The OpenAPI 3.1 document.', json: z.record(z.string(), z.unknown()), name: 'OpenApiDocument' },
    errors: [],
    handler: async ({ deps }) => deps.openapi as Record<string, unknown>,
  }),
];

/** Swagger UI's files, from the installed `swagger-ui-dist` package. */
const swaggerDir = () => createRequire(import.meta.url)('swagger-ui-dist').getAbsoluteFSPath() as string;

/**
 * `/docs`: the API reference rendered by Swagger UI, from local files only (the service runs
 * offline): our page and init script (api/docs/), Swagger UI's bundle and stylesheet. Public,
 * like the document it renders; read once at start; served with a strict CSP (the init script is
 * a file of its own, so no inline script is needed). Not part of the route table: static assets.
 */
export function docsPage(): Router {
  const own = (file: string) => readFileSync(new URL(`../docs/${file}`, import.meta.url));
  const dist = (file: string) => readFileSync(join(swaggerDir(), file));
  const assets: Record<string, { type: string; body: Buffer }> = {
    '/docs': { type: 'text/html; charset=utf-8', body: own('index.html') },
    '/docs/init.js': { type: 'text/javascript; charset=utf-8', body: own('init.js') },
    '/docs/swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', body: dist('swagger-ui-bundle.js') },
    '/docs/swagger-ui.css': { type: 'text/css; charset=utf-8', body: dist('swagger-ui.css') },
  };
  const r = Router({ strict: false });
  for (const [path, asset] of Object.entries(assets)) r.get(path, (_req, res) => send(res, asset.type, asset.body));
  return r;
}

function send(res: Response, type: string, body: Buffer): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(body);
}
