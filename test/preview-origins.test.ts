import { request } from 'node:http';
import type { Buntime } from '@buntime/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownService } from './support/harness.ts';
import { startPreviewServer } from './support/preview-server.ts';

// A service of its own whose previews live on origins of their own: {previewId}.preview.test.
// Nothing resolves that name here: requests go to the API's loopback port with that Host.
let service: Awaited<ReturnType<typeof ownService>>;
let client: Buntime;
let key: string;
let sessionId: string;
let previewHost: string;

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/** One request to the API's port as if to `host` (fetch cannot set Host). */
function asHost(host: string, path: string, o: { key?: string; cookie?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { host };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.cookie) headers.cookie = o.cookie;
  return new Promise((resolve, reject) => {
    const req = request(`${service.api.url}${path}`, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const codeOf = (a: Answer) => (JSON.parse(a.text) as { error: { code: string } }).error.code;

beforeAll(async () => {
  service = await ownService('previewdom', { PREVIEW_DOMAIN: 'preview.test', PREVIEW_SCHEME: 'http', PREVIEW_FIRST_BYTE_MS: '1500', WARM_POOL_SIZE: '0' });
  ({ client, key } = await service.account());
  const created = await client.sessions.create();
  sessionId = created.id;
  await startPreviewServer(client, sessionId);
  previewHost = new URL((await client.sessions.get(sessionId)).previewUrl).host;
});
afterAll(async () => {
  await client?.sessions.delete(sessionId).catch(() => {});
  await service?.stop();
});

describe('preview origins (PREVIEW_DOMAIN)', () => {
  it('hands out a lowercase DNS-safe origin per session and routes its Host to that session', async () => {
    expect(previewHost).toMatch(/^ses-[a-z2-7]{24}\.preview\.test$/);
    expect((await client.sessions.get(sessionId)).previewUrl).toBe(`http://${previewHost}/`);
    const page = await asHost(previewHost, '/hello?x=1', { key });
    expect(page.status).toBe(200);
    expect(page.text).toBe('GET /hello?x=1  auth=none cookie=none');
    expect(page.headers['x-from']).toBe('session');
    // An origin of its own needs no sandbox; the port in Host and the case of the name do not matter.
    expect(page.headers['content-security-policy']).toBeUndefined();
    expect((await asHost(`${previewHost.toUpperCase()}:8443`, '/', { key })).text).toBe('GET /  auth=none cookie=none');
  });

  it('serves nothing but the preview there: API paths are the preview\'s own', async () => {
    expect((await asHost(previewHost, '/sessions', { key })).text).toBe('GET /sessions  auth=none cookie=none');
    expect((await asHost(previewHost, '/health')).status).toBe(401);
    expect((await asHost(previewHost, `/preview/${sessionId}/`, { key })).text).toBe(`GET /preview/${sessionId}/  auth=none cookie=none`);
    // …and the API's origin serves no preview.
    const onApi = await asHost(new URL(service.api.url).host, `/preview/${sessionId}/`, { key });
    expect(onApi.status).toBe(404);
  });

  it('passes the preview\'s cookies without Domain, and never lets it set the service\'s', async () => {
    const page = await asHost(previewHost, '/cookies', { key });
    expect(page.headers['set-cookie']).toEqual(['x=1; Path=/', 'y=2; Path=/app; HttpOnly']);
  });

  it('opens with a session token as ?token= and keeps working through a cookie of that origin only', async () => {
    const { token } = await client.sessions.token(sessionId);
    const first = await asHost(previewHost, `/page?token=${token}&q=1`);
    expect(first.status).toBe(200);
    expect(first.text).toBe('GET /page?q=1  auth=none cookie=none');
    const [cookie] = first.headers['set-cookie'] as string[];
    expect(cookie).toMatch(/^buntime_preview=[^;]+; Max-Age=(8|9)\d\d; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    const asset = await asHost(previewHost, '/app.js', { cookie: `${cookie!.split(';')[0]!}; theme=dark` });
    expect(asset.text).toBe('GET /app.js  auth=none cookie=theme=dark');
    // An API key is never taken from the URL.
    const keyInUrl = await asHost(previewHost, `/?token=${key}`);
    expect([keyInUrl.status, keyInUrl.headers['set-cookie']]).toEqual([401, undefined]);
  });

  it('keeps sessions and accounts apart: 404 for unknown origins and strangers, 403 for another session\'s token', async () => {
    expect(codeOf(await asHost('ses-aaaaaaaaaaaaaaaaaaaaaaaa.preview.test', '/', { key }))).toBe('not_found');
    expect(codeOf(await asHost('preview.test', '/', { key }))).toBe('not_found');
    const stranger = await service.account();
    expect(codeOf(await asHost(previewHost, '/', { key: stranger.key }))).toBe('session_not_found');
    const other = await client.sessions.create();
    try {
      const { token } = await client.sessions.token(other.id);
      expect(codeOf(await asHost(previewHost, `/?token=${token}`))).toBe('forbidden');
    } finally {
      await client.sessions.delete(other.id);
    }
  });

  it('answers 504 when the server does not start answering in time, 502 when it hangs up', async () => {
    const t0 = Date.now();
    const slow = await asHost(previewHost, '/slow', { key });
    expect([slow.status, codeOf(slow)]).toEqual([504, 'gateway_timeout']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const broken = await asHost(previewHost, '/broken', { key });
    expect([broken.status, codeOf(broken)]).toEqual([502, 'bad_gateway']);
  });
});
