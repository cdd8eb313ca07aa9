import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, newAccount } from './support/harness.ts';

let key: string;
let sessionId: string;

beforeAll(async () => {
  key = (await newAccount('free')).key;
  const res = await http('POST', '/sessions/create', { key });
  sessionId = res.json.sessionId;
});
afterAll(async () => {
  await http('DELETE', `/sessions/${sessionId}`, { key });
});

function expectEnvelope(res: Awaited<ReturnType<typeof http>>, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.json).toMatchObject({ error: { code, message: expect.any(String), details: expect.any(Object) } });
  expect(res.headers.get('x-request-id')).toMatch(/^req_/);
}

describe('bad input', () => {
  const cases: Array<[string, (sid: string) => unknown, string?]> = [
    ['neither code nor command', (s) => ({ sessionId: s })],
    ['both code and command', (s) => ({ sessionId: s, code: '1', command: 'true' })],
    ['timeout 0', (s) => ({ sessionId: s, code: '1', timeout: 0 }), 'timeout'],
    ['timeout above the plan max', (s) => ({ sessionId: s, code: '1', timeout: 31 }), 'timeout'],
    ['a fractional timeout', (s) => ({ sessionId: s, code: '1', timeout: 1.5 }), 'timeout'],
    ['a bad env name', (s) => ({ sessionId: s, code: '1', env: { '1BAD': 'x' } }), 'env.1BAD'],
    ['more than 100 env vars', (s) => ({ sessionId: s, code: '1', env: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x'])) }), 'env'],
    ['a ../ file path', (s) => ({ sessionId: s, code: '1', files: [{ path: '../etc/x', content: 'x' }] }), 'files.0.path'],
    ['an absolute path outside /workspace', (s) => ({ sessionId: s, code: '1', files: [{ path: '/etc/passwd', content: 'x' }] }), 'files.0.path'],
    ['a workingDir outside /workspace', (s) => ({ sessionId: s, code: '1', workingDir: '/workspace/../etc' }), 'workingDir'],
    ['an unknown field', (s) => ({ sessionId: s, code: '1', bogus: true })],
    ['an ill-typed field', (s) => ({ sessionId: s, code: 42 }), 'code'],
    ['a file whose base64 content is not base64', (s) => ({ sessionId: s, code: '1', files: [{ path: 'a', content: '%%% not base64', encoding: 'base64' }] }), 'files.0.content'],
  ];
  for (const [name, body, field] of cases) {
    it(`refuses ${name} with 400 invalid_request`, async () => {
      const res = await http('POST', '/execute', { key, body: body(sessionId) });
      expectEnvelope(res, 400, 'invalid_request');
      if (field) expect(res.json.error.details.field).toBe(field);
    });
  }

  it('refuses a /files/write whose base64 content is not base64, and writes nothing', async () => {
    const res = await http('POST', '/files/write', { key, body: { sessionId, path: 'garbage.bin', content: '!!!not-base64!!!', encoding: 'base64' } });
    expectEnvelope(res, 400, 'invalid_request');
    expect(res.json.error.details.field).toBe('content');
    expect((await http('GET', `/files/read?sessionId=${sessionId}&path=garbage.bin`, { key })).status).toBe(404);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await http('POST', '/execute', { key, raw: '{"sessionId": ' });
    expectEnvelope(res, 400, 'invalid_request');
  });

  it('refuses a 20 MB body with 413', async () => {
    const res = await http('POST', '/execute', { key, body: { sessionId, code: 'x'.repeat(20 * 1024 * 1024) } });
    expectEnvelope(res, 413, 'payload_too_large');
  });

  it('changes nothing on refused input', async () => {
    await http('POST', '/execute', { key, body: { sessionId, command: 'true', files: [{ path: 'ok.txt', content: 'x' }, { path: '../bad', content: 'x' }] } });
    const res = await http('POST', '/execute', { key, body: { sessionId, command: 'ls -A /workspace' } });
    expect(res.json.stdout).toBe('');
  });

  it('answers unknown paths with 404 not_found', async () => {
    expectEnvelope(await http('GET', '/nope', { key }), 404, 'not_found');
  });
});

describe('authentication', () => {
  const bad: Array<[string, Record<string, string>]> = [
    ['a missing header', {}],
    ['a non-Bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a malformed key', { authorization: 'Bearer not-a-key' }],
    ['an unknown key', { authorization: `Bearer btk_${'A'.repeat(40)}` }],
  ];
  for (const [name, headers] of bad) {
    it(`answers ${name} with 401 and WWW-Authenticate`, async () => {
      const res = await http('POST', '/sessions/create', { headers });
      expectEnvelope(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    });
  }

  it('serves /health without a key', async () => {
    const res = await http('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.json.redis).toBe('ok');
    expect(res.json.nodes).toBeGreaterThanOrEqual(1);
  });
});
