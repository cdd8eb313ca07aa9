import type { Buntime } from '@buntime/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerExecutionTools } from './execution-tools.ts';
import { registerFileTools } from './file-tools.ts';
import { registerPreviewTool } from './preview-tool.ts';
import { SessionLease } from './session-lease.ts';

/** Version this server reports to MCP clients. */
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = `Tools to run code in a private, persistent Bun sandbox (Linux, busybox shell, Bun for JavaScript/TypeScript).
This connection has one sandbox session, created on first use and deleted when the connection closes.
Files under /workspace persist between calls; use paths relative to /workspace.
execute_code runs and waits; start_process starts servers and other long-running work; get_preview_url opens a web server listening on port 8080.`;

/** Options of one MCP connection's server. */
export interface ConnectionOptions {
  client: Buntime;
  /** Lifetime of the connection's session, s. */
  ttlSec: number;
  /** Leave the session alive when the connection ends. */
  keepSession: boolean;
}

/**
 * The MCP server of one connection: the eight tools, bound to a session lease of its own. Call
 * `lease.release()` when the connection ends.
 */
export function createConnection(o: ConnectionOptions): { server: McpServer; lease: SessionLease } {
  const lease = new SessionLease(o.client.sessions, {
    ttlSec: o.ttlSec, keep: o.keepSession, metadata: { createdBy: 'buntime-mcp' },
  });
  const server = new McpServer({ name: 'buntime', version: SERVER_VERSION }, { instructions: INSTRUCTIONS });
  const deps = { client: o.client, lease };
  registerExecutionTools(server, deps);
  registerFileTools(server, deps);
  registerPreviewTool(server, deps);
  return { server, lease };
}
