import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, http, newClient, useSession } from './support/harness.ts';

const s = useSession();
const SERVER = `Bun.serve({ port: 8080, async fetch(req) {
  const u = new URL(req.url);
  return new Response(req.method + " " + u.pathname + u.search + " " + (await req.text()) + " auth=" + (req.headers.get("authorization") ?? "none"),
    { headers: { "content-type": "text/x-echo", "x-from": "session" } });
} });`;

beforeAll(async () => {
  await s.client.spawn({ sessionId: s.sessionId, code: SERVER });
  for (let i = 0; i < 50; i++) {
    const r = await s.client.execute({ sessionId: s.sessionId, code: 'try { await fetch("http://127.0.0.1:8080/"); console.log("up") } catch { console.log("down") }' });
    if (r.stdout === 'up\n') return;
  }
  throw new Error('the session server did not come up');
});

describe('preview', () => {
  it('relays any request to the server on the session\'s preview port, and its answer', async () => {
    const get = await http('GET', `/preview/${s.sessionId}/hello/world?x=1&y=2`, { key: s.key });
    expect(get.status).toBe(200);
    expect(get.text).toBe('GET /hello/world?x=1&y=2  auth=none');
    expect(get.headers.get('content-type')).toBe('text/x-echo');
    expect(get.headers.get('x-from')).toBe('session');
    const post = await http('POST', `/preview/${s.sessionId}/form`, { key: s.key, raw: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.text).toBe('POST /form a=1&b=2 auth=none');
    const root = await http('GET', `/preview/${s.sessionId}`, { key: s.key });
    expect(root.text).toBe('GET /  auth=none');
  });

  it('opens in a browser with a session token, then keeps working through its cookie', async () => {
    const minted = await http('POST', `/sessions/${s.sessionId}/token`, { key: s.key, body: {} });
    const token = minted.json.token as string;
    const first = await fetch(`${apiUrl()}/preview/${s.sessionId}/page?token=${token}&q=1`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('GET /page?q=1  auth=none');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toContain(`Path=/preview/${s.sessionId}/`);
    expect(cookie).toContain('HttpOnly');
    const asset = await fetch(`${apiUrl()}/preview/${s.sessionId}/app.js`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(await asset.text()).toBe('GET /app.js  auth=none');
    // The token opens this session's preview and nothing else.
    const other = await fetch(`${apiUrl()}/sessions/${s.sessionId}/token`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(403);
  });

  it('answers 401 without credentials and 404 for another account or when nothing listens', async () => {
    expect((await fetch(`${apiUrl()}/preview/${s.sessionId}/`)).status).toBe(401);
    const stranger = await newClient();
    expect((await http('GET', `/preview/${s.sessionId}/`, { key: stranger.account.key })).status).toBe(404);
    await s.client.processes.kill(s.sessionId);
    const gone = await http('GET', `/preview/${s.sessionId}/`, { key: s.key });
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('not_found');
  });
});
