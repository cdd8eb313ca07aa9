import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCli, deleteSessionsOf, http, newAccount, newKey } from './support/harness.ts';

let acc: Awaited<ReturnType<typeof newAccount>>;
let mine: string;
let other: string;
let token: string;

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const withToken = (method: string, path: string, t = token, body?: unknown) => http(method, path, { headers: bearer(t), body });

/** Runs a streamed execution with the key; returns its id once the stream has ended. */
async function streamed(sessionId: string): Promise<string> {
  const r = await http('POST', '/execute', { key: acc.key, body: { sessionId, command: 'echo streamed', stream: true } });
  expect(r.text).toContain('event: result');
  return r.headers.get('x-execution-id')!;
}

beforeAll(async () => {
  acc = await newAccount();
  mine = (await http('POST', '/sessions/create', { key: acc.key })).json.sessionId;
  other = (await http('POST', '/sessions/create', { key: acc.key })).json.sessionId;
  const r = await http('POST', `/sessions/${mine}/token`, { key: acc.key, body: {} });
  expect(r.status).toBe(200);
  token = r.json.token;
});
afterAll(() => deleteSessionsOf(acc.key));

describe('session tokens', () => {
  it('are short-lived HS256 JWTs scoped to one session, 15 min by default, at most 1 h', async () => {
    const claims = jwt.decode(token, { complete: true })!;
    expect(claims.header.alg).toBe('HS256');
    expect(claims.payload).toMatchObject({ sub: mine, account: acc.name, scope: 'session' });
    const { exp, iat } = claims.payload as { exp: number; iat: number };
    expect(exp - iat).toBe(900);
    const hour = await http('POST', `/sessions/${mine}/token`, { key: acc.key, body: { ttl: 3600 } });
    expect(Date.parse(hour.json.expiresAt) - Date.now()).toBeGreaterThan(3590_000);
    expect(hour.headers.get('cache-control')).toBe('no-store');
    const long = await http('POST', `/sessions/${mine}/token`, { key: acc.key, body: { ttl: 3601 } });
    expect(long.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'ttl' } });
  });

  it("read their session, its files and its executions' events", async () => {
    expect((await withToken('GET', `/sessions/${mine}`)).json).toMatchObject({ sessionId: mine, state: 'active' });
    expect((await withToken('GET', `/files/list?sessionId=${mine}`)).json).toMatchObject({ files: expect.any(Array) });
    await http('POST', '/files/write', { key: acc.key, body: { sessionId: mine, path: 'hello.txt', content: 'hi' } });
    expect((await withToken('GET', `/files/read?sessionId=${mine}&path=hello.txt`)).text).toBe('hi');
    const executionId = await streamed(mine);
    const events = await withToken('GET', `/executions/${executionId}/events`);
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    expect(events.text).toContain('streamed');
    expect(events.text).toContain('event: result');
  });

  it('are forbidden everything else, including other sessions of the same account', async () => {
    const otherExecution = await streamed(other);
    const denied = [
      await withToken('GET', `/sessions/${other}`),
      await withToken('GET', `/executions/${otherExecution}/events`),
      await withToken('GET', `/files/list?sessionId=${other}`),
      await withToken('GET', '/sessions'),
      await withToken('GET', '/usage'),
      await withToken('POST', '/execute', token, { sessionId: mine, command: 'true' }),
      await withToken('POST', '/files/write', token, { sessionId: mine, path: 'x', content: 'x' }),
      await withToken('POST', `/sessions/${mine}/token`, token, {}),
      await withToken('DELETE', `/sessions/${mine}`),
      await withToken('POST', '/sessions/create', token, {}),
    ];
    for (const r of denied) expect(r.json.error.code).toBe('forbidden');
    expect(denied.map((r) => r.status)).toEqual(Array(denied.length).fill(403));
    expect((await http('GET', `/sessions/${mine}`, { key: acc.key })).status).toBe(200);
  });

  it('are refused when expired, forged or minted for another account', async () => {
    const claims = jwt.decode(token) as Record<string, unknown>;
    const forged = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }, 'not-the-secret-not-the-secret-xx', { algorithm: 'HS256' });
    const tampered = `${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: other })).toString('base64url')}.${token.split('.')[2]}`;
    for (const t of [forged, tampered, `${token}x`]) {
      const r = await withToken('GET', `/sessions/${mine}`, t);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    const stranger = await newAccount();
    expect((await http('POST', `/sessions/${mine}/token`, { key: stranger.key, body: {} })).status).toBe(404);
  });

  it('die with the key that minted them and with their session', async () => {
    const second = await newKey(acc.name);
    const s = (await http('POST', '/sessions/create', { key: second.key })).json.sessionId;
    const t = (await http('POST', `/sessions/${s}/token`, { key: second.key, body: { ttl: 60 } })).json.token;
    expect((await withToken('GET', `/sessions/${s}`, t)).status).toBe(200);
    expect((await adminCli(['keys', 'revoke', second.keyId])).code).toBe(0);
    expect((await withToken('GET', `/sessions/${s}`, t)).status).toBe(401);

    const t2 = (await http('POST', `/sessions/${s}/token`, { key: acc.key, body: {} })).json.token;
    await http('DELETE', `/sessions/${s}`, { key: acc.key });
    expect((await withToken('GET', `/sessions/${s}`, t2)).json.error.code).toBe('session_not_found');
  });
});
