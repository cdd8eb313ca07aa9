import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatBytes, formatFileContent, formatFileList } from './format.ts';
import { withSession, type ToolDeps } from './tool-context.ts';

const path = z.string().min(1).describe('Path relative to /workspace (e.g. `src/main.ts`).');

/** `write_file`, `read_file`, `list_files`. */
export function registerFileTools(server: McpServer, d: ToolDeps): void {
  server.registerTool('write_file', {
    title: 'Write a file',
    description: 'Writes a file into the sandbox\'s /workspace (parent directories are created; an existing file is replaced). Later execute_code calls see it.',
    inputSchema: {
      path,
      content: z.string().describe('The file\'s content.'),
      encoding: z.enum(['utf8', 'base64']).optional().describe('`base64` when `content` is base64-encoded bytes (default utf8).'),
    },
    annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, (args) => withSession(d, async (sessionId) => {
    const r = await d.client.files.write(sessionId, args.path, args.content, { encoding: args.encoding ?? 'utf8' });
    return `wrote ${r.path} (${formatBytes(r.size)})`;
  }));

  server.registerTool('read_file', {
    title: 'Read a file',
    description: 'Reads a file from the sandbox\'s /workspace. Text comes back as is; a binary file comes back base64-encoded. Long content is cut.',
    inputSchema: {
      path,
      encoding: z.enum(['utf8', 'base64']).optional().describe('`base64` to get the raw bytes encoded (default utf8 text).'),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (args) => withSession(d, async (sessionId) => {
    const bytes = await d.client.files.read(sessionId, args.path);
    return formatFileContent(args.path, bytes, args.encoding ?? 'utf8');
  }));

  server.registerTool('list_files', {
    title: 'List files',
    description: 'Lists a directory of the sandbox\'s /workspace: type, size, modification time and path of each entry.',
    inputSchema: {
      path: z.string().optional().describe('Directory relative to /workspace (default: /workspace itself).'),
      limit: z.number().int().min(1).max(1000).optional().describe('Most entries to list (default 200).'),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (args) => withSession(d, async (sessionId) => {
    const list = await d.client.files.list(sessionId, { path: args.path, limit: args.limit ?? 200 });
    return formatFileList(list, args.path ? `/workspace/${args.path.replace(/^\/+/, '')}` : '/workspace');
  }));
}
