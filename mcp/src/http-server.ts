import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { HttpConfig } from './config.ts';
import { HttpGuard } from './http-guard.ts';
import type { Log } from './log.ts';
import { createConnection, type ConnectionOptions } from './server.ts';
import type { SessionLease } from './session-lease.ts';

/** Largest JSON-RPC body read, bytes (a write_file of a few MB, base64). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** MCP connections open at once; each may hold a sandbox session. */
const MAX_CONNECTIONS = 100;

/** Options of {@link serveHttp}. */
export interface HttpServerOptions extends ConnectionOptions {
  http: HttpConfig;
  log: Log;
  /** An MCP connection without a request for this long is closed and its session released, ms. Default: the session ttl. */
  idleMs?: number;
}

/** A listening streamable HTTP server. */
export interface HttpMcpServer {
  /** `http://host:port/mcp`. */
  url: string;
  /** Stops listening and ends every connection, releasing their sessions. */
  close(): Promise<void>;
}

interface Connection {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  lease: SessionLease;
  seenAt: number;
}

/**
 * Serves MCP over streamable HTTP at `/mcp`, one MCP session (and one Buntime session) per
 * client. Every request needs the bearer token and an absent or allowed `Origin`.
 */
export async function serveHttp(o: HttpServerOptions): Promise<HttpMcpServer> {
  const guard = new HttpGuard(o.http);
  const connections = new Map<string, Connection>();
  const idleMs = o.idleMs ?? o.ttlSec * 1000;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log(`request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) reply(res, 500, 'internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = guard.check({ origin: req.headers.origin, authorization: req.headers.authorization });
    if (!verdict.ok) return reply(res, verdict.status, verdict.message);
    if (new URL(req.url ?? '/', 'http://mcp').pathname !== '/mcp') return reply(res, 404, 'not found; the MCP endpoint is /mcp');
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const conn = connections.get(sid);
      if (!conn) return reply(res, 404, 'unknown or closed MCP session');
      conn.seenAt = Date.now();
      return conn.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return reply(res, 400, 'an MCP session starts with a POST of initialize');
    const body = await readJson(req);
    if (body === undefined) return reply(res, 400, 'the body is not JSON (or is too large)');
    if (!isInitializeRequest(body)) return reply(res, 400, 'no mcp-session-id: expected an initialize request');
    if (connections.size >= MAX_CONNECTIONS) return reply(res, 503, `too many MCP connections (${MAX_CONNECTIONS}); close one first`);
    await (await open()).handleRequest(req, res, body);
  }

  async function open(): Promise<StreamableHTTPServerTransport> {
    const { server: mcp, lease } = createConnection(o);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => void connections.set(id, { transport, server: mcp, lease, seenAt: Date.now() }),
    });
    mcp.server.onclose = () => {
      if (transport.sessionId) connections.delete(transport.sessionId);
      void lease.release().then((s) => s && o.log(`connection closed: session ${s.sessionId} ${o.keepSession ? 'kept' : 'deleted'}`));
    };
    await mcp.connect(transport);
    return transport;
  }

  // Clients that vanish without a DELETE: end their connections once idle past the ttl.
  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const c of connections.values()) if (c.seenAt < cutoff) void c.transport.close();
  }, Math.min(60_000, Math.max(1000, idleMs / 4)));
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.http.port, o.http.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.http.port;
  for (const own of ownOrigins(o.http.host, port)) guard.allowOrigin(own);
  const base = `http://${hostInUrl(o.http.host)}:${port}`;
  o.log(`listening on ${base}/mcp`);
  return {
    url: `${base}/mcp`,
    close: async () => {
      clearInterval(sweep);
      await Promise.all([...connections.values()].map(async (c) => {
        await c.transport.close();
        await c.lease.release();
      }));
      await closeServer(server);
    },
  };
}

/** Origins of this server itself, which its own pages may use. */
function ownOrigins(host: string, port: number): string[] {
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
  const hosts = loopback ? ['127.0.0.1', 'localhost', '[::1]'] : [hostInUrl(host)];
  return hosts.map((h) => `http://${h}:${port}`);
}

function hostInUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A JSON-RPC error body with the HTTP status; 401s say how to authenticate. */
function reply(res: ServerResponse, status: number, message: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  res.writeHead(status, headers);
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
