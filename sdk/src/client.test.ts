import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Buntime } from './client.ts';
import { Session } from './session.ts';
import { jsonBody, resultFixture, sendJson, startServer, type Handler, type TestServer } from './test-server.ts';

const CREATED = {
  sessionId: 'ses_bbbbbbbbbbbbbbbbbbbb',
  createdAt: '2025-01-01T00:00:00.000Z',
  expiresAt: '2025-01-01T01:00:00.000Z',
  previewUrl: 'http://127.0.0.1:3000/preview/ses_bbbbbbbbbbbbbbbbbbbb',
  resourceLimits: { memory: 1024, cpu: 0.25, timeout: 30, disk: 1024 },
  network: { egress: 'public', allow: [], deny: [], ports: [80, 443] },
  state: 'active',
};

let server: TestServer | undefined;
const savedEnv = { ...process.env };

beforeEach(() => {
  delete process.env.BUNTIME_API_KEY;
  delete process.env.BUNTIME_BASE_URL;
});

afterEach(async () => {
  process.env = { ...savedEnv };
  await server?.close();
  server = undefined;
});

/** A server that answers `routes["METHOD /path"]`, else 200 `{}`. */
async function api(routes: Record<string, Handler> = {}): Promise<{ srv: TestServer; c: Buntime }> {
  server = await startServer((req, res, raw) => {
    const route = routes[`${req.method} ${req.path}`];
    return route ? route(req, res, raw) : sendJson(res, 200, {});
  });
  return { srv: server, c: new Buntime({ apiKey: 'btk_test', baseUrl: server.url }) };
}

const answer = (body: unknown): Handler => (_req, res) => sendJson(res, 200, body);

describe('construction', () => {
  it('fails without an API key, saying how to give one', () => {
    expect(() => new Buntime()).toThrow(/BUNTIME_API_KEY/);
    expect(() => new Buntime({ apiKey: '' })).toThrow(/API key/);
  });

  it('reads BUNTIME_API_KEY and BUNTIME_BASE_URL, else defaults to 127.0.0.1:3000', async () => {
    process.env.BUNTIME_API_KEY = 'btk_env';
    expect(new Buntime().baseUrl).toBe('http://127.0.0.1:3000');
    const { srv } = await api({ 'GET /usage': answer({ requests: 1 }) });
    process.env.BUNTIME_BASE_URL = `${srv.url}/`;
    const c = new Buntime();
    expect(c.baseUrl).toBe(srv.url);
    expect(await c.usage()).toEqual({ requests: 1 });
    expect(srv.requests[0]!.headers.authorization).toBe('Bearer btk_env');
  });

  it('rejects invalid options', () => {
    expect(() => new Buntime({ apiKey: 'k', maxRetries: -1 })).toThrow(/maxRetries/);
    expect(() => new Buntime({ apiKey: 'k', timeout: 0 })).toThrow(/timeout/);
    expect(() => new Buntime({ apiKey: 'k', baseUrl: 'not a url' })).toThrow(/baseUrl/);
  });
});

describe('sessions', () => {
  it('create sends the body and returns a Session with id = sessionId', async () => {
    const { srv, c } = await api({ 'POST /sessions/create': answer(CREATED) });
    const session = await c.sessions.create({ ttl: 3600, metadata: { user: 'u1' }, resourceLimits: { memory: 2048 } });
    expect(session).toBeInstanceOf(Session);
    expect(session.id).toBe(CREATED.sessionId);
    expect(JSON.parse(JSON.stringify(session))).toEqual({ id: CREATED.sessionId, ...CREATED });
    expect(jsonBody(srv.requests[0]!)).toEqual({ ttl: 3600, metadata: { user: 'u1' }, resourceLimits: { memory: 2048 } });
    expect(srv.requests[0]!.headers['content-type']).toBe('application/json');
  });

  it('get, list and delete hit their endpoints', async () => {
    const details = { ...CREATED, lastActive: CREATED.createdAt, filesCount: 2, activeProcesses: 0, metadata: {} };
    const { srv, c } = await api({
      [`GET /sessions/${CREATED.sessionId}`]: answer(details),
      'GET /sessions': answer({ sessions: [details], total: 1 }),
      [`DELETE /sessions/${CREATED.sessionId}`]: answer({ deleted: true, sessionId: CREATED.sessionId }),
    });
    expect(await c.sessions.get(CREATED.sessionId)).toEqual(details);
    expect(await c.sessions.list({ limit: 10, offset: 20 })).toEqual({ sessions: [details], total: 1 });
    expect(await c.sessions.delete(CREATED.sessionId)).toEqual({ deleted: true, sessionId: CREATED.sessionId });
    expect(srv.requests[1]!.query.toString()).toBe('limit=10&offset=20');
  });

  it('create sends a network policy; egress reads the session\'s connection log', async () => {
    const log = { connections: [{ at: CREATED.createdAt, method: 'GET', host: 'example.org', port: 80, address: null, decision: 'denied', reason: 'not_allowlisted', bytesIn: 0, bytesOut: 0, durationMs: 0 }] };
    const { srv, c } = await api({ 'POST /sessions/create': answer(CREATED), [`GET /sessions/${CREATED.sessionId}/egress`]: answer(log) });
    const session = await c.sessions.create({ network: { egress: 'allowlist', allow: ['*.example.org'] } });
    expect(session.network).toEqual(CREATED.network);
    expect(await session.egress({ limit: 5 })).toEqual(log);
    expect(await c.sessions.egress(CREATED.sessionId)).toEqual(log);
    expect(jsonBody(srv.requests[0]!)).toEqual({ network: { egress: 'allowlist', allow: ['*.example.org'] } });
    expect(srv.requests[1]!.query.toString()).toBe('limit=5');
    expect(srv.requests[2]!.query.toString()).toBe('');
  });

  it('token mints a session token with the ttl asked', async () => {
    const minted = { token: 'eyJ.x.y', expiresAt: CREATED.expiresAt };
    const { srv, c } = await api({ [`POST /sessions/${CREATED.sessionId}/token`]: answer(minted) });
    expect(await c.sessions.token(CREATED.sessionId, { ttl: 600 })).toEqual(minted);
    expect(jsonBody(srv.requests[0]!)).toEqual({ ttl: 600 });
  });

  it('a Session executes, spawns, reads its details and deletes itself', async () => {
    const { srv, c } = await api({
      'POST /sessions/create': answer(CREATED),
      'POST /execute': (req, res) =>
        sendJson(res, 200, jsonBody(req).background ? { executionId: 'exe_bg', pid: 42 } : resultFixture({ stdout: '2\n' })),
      [`GET /sessions/${CREATED.sessionId}`]: answer({ state: 'idle' }),
    });
    const session = await c.sessions.create();
    expect((await session.execute({ code: 'console.log(1 + 1)' })).stdout).toBe('2\n');
    expect(await session.spawn({ command: 'sleep 100' })).toEqual({ executionId: 'exe_bg', pid: 42 });
    expect((await session.details()).state).toBe('idle');
    await session.delete();
    const [, run, spawn, , del] = srv.requests;
    expect(jsonBody(run!)).toEqual({ sessionId: CREATED.sessionId, code: 'console.log(1 + 1)' });
    expect(jsonBody(spawn!)).toEqual({ sessionId: CREATED.sessionId, command: 'sleep 100', background: true });
    expect([del!.method, del!.path]).toEqual(['DELETE', `/sessions/${CREATED.sessionId}`]);
  });
});

describe('execute', () => {
  it('sends every field, files as bytes in base64, and returns the result', async () => {
    const { srv, c } = await api({ 'POST /execute': answer(resultFixture({ exitCode: 3, status: 'error' })) });
    const result = await c.execute({
      sessionId: 'ses_x',
      command: 'sh run.sh',
      files: [{ path: 'run.sh', content: 'exit 3' }, { path: 'b.bin', content: Uint8Array.of(0, 255, 1) }],
      env: { A: '1' },
      timeout: 5,
      workingDir: '/workspace/sub',
      stdin: 'input',
    });
    expect([result.exitCode, result.status]).toEqual([3, 'error']);
    expect(jsonBody(srv.requests[0]!)).toEqual({
      sessionId: 'ses_x',
      command: 'sh run.sh',
      files: [
        { path: 'run.sh', content: 'exit 3', encoding: 'utf8' },
        { path: 'b.bin', content: 'AP8B', encoding: 'base64' },
      ],
      env: { A: '1' },
      timeout: 5,
      workingDir: '/workspace/sub',
      stdin: 'input',
    });
  });

  it('adds the execution timeout to the client timeout', async () => {
    const slow: Handler = (_req, res) => void setTimeout(() => sendJson(res, 200, resultFixture()), 400);
    const { srv } = await api({ 'POST /execute': slow });
    const c = new Buntime({ apiKey: 'btk_test', baseUrl: srv.url, timeout: 150 });
    expect((await c.execute({ sessionId: 'ses_x', code: 'x', timeout: 1 })).status).toBe('ok');
    await expect(c.execute({ sessionId: 'ses_x', code: 'x' })).rejects.toMatchObject({ code: 'timeout', status: 0 });
  });

  it('spawn starts a background execution', async () => {
    const { srv, c } = await api({ 'POST /execute': answer({ executionId: 'exe_2', pid: 7 }) });
    expect(await c.spawn({ sessionId: 'ses_x', code: 'Bun.serve({})' })).toEqual({ executionId: 'exe_2', pid: 7 });
    expect(await c.execute({ sessionId: 'ses_x', code: 'x', background: true })).toEqual({ executionId: 'exe_2', pid: 7 });
    expect(srv.requests.map((r) => jsonBody(r).background)).toEqual([true, true]);
  });
});

describe('processes and files', () => {
  it('list and kill processes', async () => {
    const proc = { pid: 9, command: 'bun run x', startedAt: CREATED.createdAt, executionId: 'exe_1' };
    const { srv, c } = await api({
      'GET /processes': answer({ processes: [proc] }),
      'POST /execution/kill': (req, res) => sendJson(res, 200, { killed: true, pids: [jsonBody(req).pid ?? 9] }),
    });
    expect(await c.processes.list('ses_x')).toEqual([proc]);
    expect(await c.processes.kill('ses_x', 9)).toEqual({ killed: true, pids: [9] });
    await c.processes.kill('ses_x');
    expect(srv.requests[0]!.query.get('sessionId')).toBe('ses_x');
    expect(jsonBody(srv.requests[1]!)).toEqual({ sessionId: 'ses_x', pid: 9 });
    expect(jsonBody(srv.requests[2]!)).toEqual({ sessionId: 'ses_x' });
  });

  it('write text and bytes', async () => {
    const { srv, c } = await api({ 'POST /files/write': answer({ path: 'a.txt', size: 2 }) });
    expect(await c.files.write('ses_x', 'a.txt', 'hi')).toEqual({ path: 'a.txt', size: 2 });
    await c.files.write('ses_x', 'b.bin', new Uint8Array([104, 105]));
    await c.files.write('ses_x', 'c.bin', 'aGk=', { encoding: 'base64' });
    expect(jsonBody(srv.requests[0]!)).toEqual({ sessionId: 'ses_x', path: 'a.txt', content: 'hi', encoding: 'utf8' });
    // Bytes go raw, the session and path in the query.
    expect(srv.requests[1]!.headers['content-type']).toBe('application/octet-stream');
    expect(Object.fromEntries(srv.requests[1]!.query)).toEqual({ sessionId: 'ses_x', path: 'b.bin' });
    expect(srv.requests[1]!.body.toString()).toBe('hi');
    expect(jsonBody(srv.requests[2]!)).toEqual({ sessionId: 'ses_x', path: 'c.bin', content: 'aGk=', encoding: 'base64' });
  });

  it('read returns the exact bytes; readText decodes UTF-8', async () => {
    const bytes = Buffer.from([0, 1, 254, 255, ...Buffer.from('✓')]);
    const { srv, c } = await api({
      'GET /files/read': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(bytes);
      },
    });
    const read = await c.files.read('ses_x', 'dir/f.bin');
    expect(read).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(read).equals(bytes)).toBe(true);
    expect((await c.files.readText('ses_x', 'f')).endsWith('✓')).toBe(true);
    expect(Object.fromEntries(srv.requests[0]!.query)).toEqual({ sessionId: 'ses_x', path: 'dir/f.bin' });
  });

  it('list, delete, upload and download', async () => {
    const tar = Uint8Array.from({ length: 1024 }, (_, i) => i % 256);
    const { srv, c } = await api({
      'GET /files/list': answer({ files: [{ path: 'a', size: 1, modified: CREATED.createdAt, type: 'file' }], total: 1 }),
      'DELETE /files': answer({ deleted: true, path: 'a' }),
      'POST /files/upload': answer({ files: 3 }),
      'GET /files/download': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        res.end(Buffer.from(tar));
      },
    });
    expect((await c.files.list('ses_x', { path: 'src', limit: 5 })).total).toBe(1);
    expect(await c.files.delete('ses_x', 'a')).toEqual({ deleted: true, path: 'a' });
    expect(await c.files.upload('ses_x', 'dst', tar)).toEqual({ files: 3 });
    expect(Buffer.from(await c.files.download('ses_x', 'dst')).equals(Buffer.from(tar))).toBe(true);
    const [list, del, upload] = srv.requests;
    expect(Object.fromEntries(list!.query)).toEqual({ sessionId: 'ses_x', path: 'src', limit: '5' });
    expect([del!.method, Object.fromEntries(del!.query)]).toEqual(['DELETE', { sessionId: 'ses_x', path: 'a' }]);
    expect(upload!.headers['content-type']).toBe('application/x-tar');
    expect(upload!.body.equals(Buffer.from(tar))).toBe(true);
  });
});
