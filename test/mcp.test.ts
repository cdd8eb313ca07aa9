import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, deleteSessionsOf, http, newAccount } from './support/harness.ts';

/** The workspace bin, run with node as an MCP client would (never through npx). */
const BIN = new URL('../mcp/bin/buntime-mcp.mjs', import.meta.url).pathname;
const TOOLS = ['execute_code', 'get_preview_url', 'kill_process', 'list_files', 'list_processes', 'read_file', 'start_process', 'write_file'];

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

async function sessionsOf(key: string): Promise<string[]> {
  const list = await http('GET', '/sessions?limit=100', { key });
  return list.json.sessions.map((s: { sessionId: string }) => s.sessionId);
}

/** Polls `probe` until it returns true, within `ms`. */
async function until(probe: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('buntime-mcp over stdio', () => {
  let key = '';
  let client: Client;
  let stderr = '';

  beforeAll(async () => {
    key = (await newAccount()).key;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--ttl', '300'],
      env: { PATH: process.env.PATH ?? '', BUNTIME_API_KEY: key, BUNTIME_URL: apiUrl() },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    client = new Client({ name: 'buntime-test', version: '0.0.0' });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close();
    if (key) await deleteSessionsOf(key);
  });

  it('lists exactly the eight tools, each with a JSON-schema input, and creates no session for that', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const t of tools) {
      expect(t.inputSchema.type).toBe('object');
      expect(t.description?.length).toBeGreaterThan(20);
    }
    expect(await sessionsOf(key)).toEqual([]);
  });

  it('execute_code runs code in one lazily created session and reports its output', async () => {
    const r = await call(client, 'execute_code', { code: 'console.log(6*7)' });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toMatch(/status: ok \(exit code 0\)/);
    expect(text(r)).toContain('42');
    expect(await sessionsOf(key)).toHaveLength(1);
    const failing = await call(client, 'execute_code', { command: 'echo oops >&2; exit 3' });
    expect(failing.isError).toBeFalsy(); // a failing program is a result
    expect(text(failing)).toMatch(/status: error \(exit code 3\)[\s\S]*--- stderr ---\noops/);
  });

  it('a file written with write_file is read back, listed and used by execute_code', async () => {
    const w = await call(client, 'write_file', { path: 'data/n.json', content: '{"n": 41}' });
    expect(text(w)).toBe('wrote data/n.json (9 B)');
    expect(text(await call(client, 'read_file', { path: 'data/n.json' }))).toBe('{"n": 41}');
    expect(text(await call(client, 'list_files', { path: 'data' }))).toMatch(/^\/workspace\/data: 1 entry\nfile\s+9 B\s+\S+\s+data\/n\.json$/);
    const r = await call(client, 'execute_code', {
      code: 'const { n } = await Bun.file("data/n.json").json(); await Bun.write("out.txt", String(n + 1)); console.log(n + 1)',
    });
    expect(text(r)).toContain('--- stdout ---\n42');
    expect(text(r)).toMatch(/files written: .*out\.txt/);
    expect(await sessionsOf(key)).toHaveLength(1);
  });

  it('failures are MCP tool errors with the API code, and the server carries on', async () => {
    const missing = await call(client, 'read_file', { path: 'no/such/file.txt' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/^Error not_found: /);
    const escape = await call(client, 'write_file', { path: '../etc/passwd', content: 'x' });
    expect(escape.isError).toBe(true);
    expect(text(escape)).toMatch(/^Error invalid_request: /);
    const both = await call(client, 'execute_code', { code: '1', command: 'true' });
    expect(both.isError).toBe(true);
    expect(text(both)).toMatch(/^Error invalid_request: give exactly one/);
    expect(text(await call(client, 'execute_code', { code: 'console.log("still here")' }))).toContain('still here');
  });

  it('start_process runs a server that get_preview_url opens in a browser, then kill_process stops it', async () => {
    const started = await call(client, 'start_process', { code: 'Bun.serve({ port: 8080, fetch: () => new Response("hello from the sandbox") })' });
    const pid = Number(/started pid (\d+)/.exec(text(started))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(text(await call(client, 'list_processes'))).toContain(`pid ${pid} `);
    const preview = text(await call(client, 'get_preview_url', { path: '/' }));
    const browserUrl = /browser URL \(valid until [^)]+\): (\S+)/.exec(preview)?.[1] ?? '';
    expect(browserUrl.startsWith(`${apiUrl()}/preview/ses_`)).toBe(true);
    await until(async () => (await fetch(browserUrl)).status === 200, 15_000, 'the preview to answer');
    expect(await (await fetch(browserUrl)).text()).toBe('hello from the sandbox');
    expect(text(await call(client, 'kill_process', { pid }))).toContain(`killed pid ${pid}`);
    expect(text(await call(client, 'list_processes'))).toBe('no processes running');
  });

  it('deletes its session when the client closes', async () => {
    const [sessionId] = await sessionsOf(key);
    expect(sessionId).toMatch(/^ses_/);
    await client.close();
    const got = await http('GET', `/sessions/${sessionId}`, { key });
    expect(got.status, stderr).toBe(404);
    expect(got.json.error.code).toBe('session_not_found');
  });
});

describe('buntime-mcp over streamable HTTP', () => {
  const TOKEN = 'mcp-test-token-0123456789abcdef';
  let key = '';
  let child: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    key = (await newAccount()).key;
    child = spawn(process.execPath, [BIN, '--http', '0', '--allow-origin', 'http://allowed.test'], {
      env: { PATH: process.env.PATH ?? '', BUNTIME_API_KEY: key, BUNTIME_URL: apiUrl(), BUNTIME_MCP_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+\/mcp)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`buntime-mcp exited ${code}: ${err}`)));
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (key) await deleteSessionsOf(key);
  });

  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } };
  const post = (headers: Record<string, string>) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(initialize),
  });

  it('refuses to start without a token', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [BIN, '--http', '0'], { env: { PATH: process.env.PATH ?? '', BUNTIME_API_KEY: key }, stdio: 'ignore' });
      p.once('exit', resolve);
    });
    expect(code).toBe(2);
  });

  it('answers 401 without the bearer token and 403 to a foreign Origin', async () => {
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post({ authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.test' })).status).toBe(403);
  });

  it('with the token (and an allowed Origin) lists the tools and runs code', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://allowed.test' } },
    });
    const client = new Client({ name: 'buntime-test', version: '0.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
      expect(text(await call(client, 'execute_code', { code: 'console.log(6*7)' }))).toContain('42');
      const [sessionId] = await sessionsOf(key);
      // Ending the MCP session (DELETE) deletes the sandbox session.
      await transport.terminateSession();
      await until(async () => (await http('GET', `/sessions/${sessionId}`, { key })).status === 404, 10_000, 'the session to be deleted');
    } finally {
      await client.close();
    }
  });
});
