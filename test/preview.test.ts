import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, http, newClient, useSession } from './support/harness.ts';
import { startPreviewServer } from './support/preview-server.ts';

// Path mode (no PREVIEW_DOMAIN, as the suite's service runs): /preview/{sessionId}/ of the API.
const s = useSession();
const SANDBOX = 'sandbox allow-scripts allow-forms allow-popups';

beforeAll(async () => {
  await startPreviewServer(s.client, s.sessionId);
});

describe('preview', () => {
  it('relays any request to the server on the session\'s preview port, and its answer', async () => {
    const get = await http('GET', `/preview/${s.sessionId}/hello/world?x=1&y=2`, { key: s.key });
    expect(get.status).toBe(200);
    expect(get.text).toBe('GET /hello/world?x=1&y=2  auth=none cookie=none');
    expect(get.headers.get('content-type')).toBe('text/x-echo');
    expect(get.headers.get('x-from')).toBe('session');
    const post = await http('POST', `/preview/${s.sessionId}/form`, { key: s.key, raw: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.text).toBe('POST /form a=1&b=2 auth=none cookie=none');
    const root = await http('GET', `/preview/${s.sessionId}`, { key: s.key });
    expect(root.text).toBe('GET /  auth=none cookie=none');
  });

  it('opens in a browser with a session token, then keeps working through its cookie', async () => {
    const minted = await http('POST', `/sessions/${s.sessionId}/token`, { key: s.key, body: {} });
    const token = minted.json.token as string;
    const first = await fetch(`${apiUrl()}/preview/${s.sessionId}/page?token=${token}&q=1`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('GET /page?q=1  auth=none cookie=none');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toContain(`Path=/preview/${s.sessionId}/`);
    expect(cookie).toContain('HttpOnly');
    // The page's own cookies reach its server; the service's cookie (the token) never does.
    const asset = await fetch(`${apiUrl()}/preview/${s.sessionId}/app.js`, { headers: { cookie: `${cookie.split(';')[0]!}; theme=dark` } });
    expect(await asset.text()).toBe('GET /app.js  auth=none cookie=theme=dark');
    // The token opens this session's preview and nothing else.
    const other = await fetch(`${apiUrl()}/sessions/${s.sessionId}/token`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(403);
  });

  it('takes only session tokens as ?token=: an API key there is 401 and never lands in a cookie', async () => {
    for (const path of [`/preview/${s.sessionId}/?token=${s.key}`, `/preview/${s.sessionId}/x?a=1&token=${s.key}`]) {
      const res = await fetch(`${apiUrl()}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    const inCookie = await fetch(`${apiUrl()}/preview/${s.sessionId}/`, { headers: { cookie: `buntime_preview=${s.key}` } });
    expect(inCookie.status).toBe(401);
    // With the key in the header, a key in ?token= is still never stored.
    const both = await http('GET', `/preview/${s.sessionId}/?token=${s.key}`, { key: s.key });
    expect(both.status).toBe(200);
    expect(both.headers.get('set-cookie')).toBeNull();
  });

  it('serves every answer as an opaque origin, its cookies confined to the session\'s prefix', async () => {
    const page = await http('GET', `/preview/${s.sessionId}/cookies`, { key: s.key });
    expect(page.headers.get('content-security-policy')).toBe(SANDBOX);
    expect(page.headers.getSetCookie()).toEqual([
      `x=1; Path=/preview/${s.sessionId}/`, `y=2; Path=/preview/${s.sessionId}/app; HttpOnly`,
    ]);
  });

  it('drops headers that act on the whole origin and keeps redirects inside the prefix', async () => {
    const page = await http('GET', `/preview/${s.sessionId}/origin-headers`, { key: s.key });
    expect(page.status).toBe(200);
    for (const h of ['access-control-allow-origin', 'access-control-allow-credentials', 'clear-site-data', 'service-worker-allowed']) {
      expect(page.headers.get(h)).toBeNull();
    }
    const redirect = await fetch(`${apiUrl()}/preview/${s.sessionId}/redirect`, { headers: { authorization: `Bearer ${s.key}` }, redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`/preview/${s.sessionId}/login?next=%2F`);
    expect(redirect.headers.get('content-security-policy')).toBe(SANDBOX);
  });

  it('streams an endless body as it comes and answers 502 when the server hangs up without an answer', async () => {
    const ctrl = new AbortController();
    const endless = await fetch(`${apiUrl()}/preview/${s.sessionId}/endless`, { headers: { authorization: `Bearer ${s.key}` }, signal: ctrl.signal });
    expect(endless.status).toBe(200);
    let bytes = 0;
    for await (const chunk of endless.body!) {
      bytes += chunk.length;
      if (bytes >= 64 * 1024) break;
    }
    ctrl.abort();
    expect(bytes).toBeGreaterThanOrEqual(64 * 1024);
    const broken = await http('GET', `/preview/${s.sessionId}/broken`, { key: s.key });
    expect(broken.status).toBe(502);
    expect(broken.json.error.code).toBe('bad_gateway');
    // The session's server is still fine afterwards.
    expect((await http('GET', `/preview/${s.sessionId}/again`, { key: s.key })).status).toBe(200);
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
