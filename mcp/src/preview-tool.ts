import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { withSession, type ToolDeps } from './tool-context.ts';

/** The preview URL of `path` below a session's `previewUrl` (which ends with `/`). */
export function previewAddress(previewUrl: string, path = '', token?: string): string {
  const url = new URL(path.replace(/^\/+/, ''), previewUrl.endsWith('/') ? previewUrl : `${previewUrl}/`);
  if (token !== undefined) url.searchParams.set('token', token);
  return url.href;
}

/** `get_preview_url`. */
export function registerPreviewTool(server: McpServer, d: ToolDeps): void {
  server.registerTool('get_preview_url', {
    title: 'Get the preview URL',
    description: 'Gives the URL at which a web server running in the sandbox can be opened. The server must listen on the preview port (8080 by default), e.g. started with start_process running `Bun.serve({ port: 8080, fetch: () => new Response("hi") })`. Returns a link that opens in a browser without credentials for a limited time.',
    inputSchema: {
      path: z.string().optional().describe('Path below the preview root, e.g. `/index.html` (default `/`).'),
      ttl: z.number().int().min(60).max(3600).optional().describe('How long the browser link works, s (default 900).'),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (args) => withSession(d, async (sessionId) => {
    const { previewUrl } = await d.lease.get();
    const minted = await d.client.sessions.token(sessionId, { ttl: args.ttl ?? 900 });
    return [
      `browser URL (valid until ${minted.expiresAt}): ${previewAddress(previewUrl, args.path, minted.token)}`,
      `preview URL for API clients (needs the API key as a bearer token): ${previewAddress(previewUrl, args.path)}`,
      'The page answers 404 until a server in the sandbox listens on the preview port.',
    ].join('\n');
  }));
}
