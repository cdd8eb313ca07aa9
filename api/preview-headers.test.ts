import { describe, expect, it } from 'vitest';
import {
  requestHeaders, responseHeaders, rewriteLocation, rewriteSetCookie, SANDBOX_CSP, type PreviewMode,
} from './preview-headers.ts';

const path: PreviewMode = { kind: 'path', prefix: '/preview/ses_Ab1' };
const host: PreviewMode = { kind: 'host' };

describe('preview response headers', () => {
  it('confine cookies to the prefix in path mode and drop Domain in both modes', () => {
    expect(rewriteSetCookie('x=1; Domain=preview.test; Path=/', path)).toBe('x=1; Path=/preview/ses_Ab1/');
    expect(rewriteSetCookie('x=1; Path=/app; HttpOnly', path)).toBe('x=1; Path=/preview/ses_Ab1/app; HttpOnly');
    expect(rewriteSetCookie('x=1', path)).toBe('x=1; Path=/preview/ses_Ab1/');
    expect(rewriteSetCookie('x=1; path=relative; SameSite=Strict', path)).toBe('x=1; Path=/preview/ses_Ab1/; SameSite=Strict');
    expect(rewriteSetCookie('x=1; Domain=preview.test; Path=/', host)).toBe('x=1; Path=/');
    expect(rewriteSetCookie('x=a=b; DOMAIN=.preview.test; Secure', host)).toBe('x=a=b; Secure');
  });

  it('never let the preview set the service\'s own cookie', () => {
    expect(rewriteSetCookie('buntime_preview=forged; Path=/', path)).toBeUndefined();
    expect(rewriteSetCookie('__Host-buntime_preview=forged; Path=/; Secure', host)).toBeUndefined();
    const out = responseHeaders({ 'set-cookie': ['buntime_preview=x', 'ok=1'] }, path);
    expect(out['set-cookie']).toEqual(['ok=1; Path=/preview/ses_Ab1/']);
  });

  it('make path-mode answers an opaque origin and drop headers that act on the origin', () => {
    const out = responseHeaders({
      'content-type': 'text/html', 'access-control-allow-origin': '*', 'Access-Control-Allow-Credentials': 'true',
      'clear-site-data': '"cookies"', 'service-worker-allowed': '/', connection: 'close', location: '/login?next=/',
      'content-security-policy': "default-src 'self'",
    }, path);
    expect(out).toEqual({
      'content-type': 'text/html', location: '/preview/ses_Ab1/login?next=/',
      'content-security-policy': ["default-src 'self'", SANDBOX_CSP],
    });
    expect(responseHeaders({}, path)['content-security-policy']).toBe(SANDBOX_CSP);
  });

  it('leave a host-mode answer its CORS and redirects, but not Clear-Site-Data', () => {
    const out = responseHeaders({ 'access-control-allow-origin': '*', location: '/login', 'clear-site-data': '*', 'x-a': 'b' }, host);
    expect(out).toEqual({ 'access-control-allow-origin': '*', location: '/login', 'x-a': 'b' });
  });

  it('move only absolute-path redirects', () => {
    expect(rewriteLocation('/a/b', '/preview/s')).toBe('/preview/s/a/b');
    expect(rewriteLocation('b', '/preview/s')).toBe('b');
    expect(rewriteLocation('//evil.example/x', '/preview/s')).toBe('//evil.example/x');
    expect(rewriteLocation('/\\evil.example/x', '/preview/s')).toBe('/\\evil.example/x');
    expect(rewriteLocation('https://elsewhere.example/', '/preview/s')).toBe('https://elsewhere.example/');
  });
});

describe('preview request headers', () => {
  it('keep the page\'s cookies but never our credentials or hop headers', () => {
    const out = requestHeaders({
      host: 'api', authorization: 'Bearer btk_x', cookie: 'a=1; buntime_preview=tok; __Host-buntime_preview=t2; b=2',
      connection: 'keep-alive', accept: 'text/html',
    });
    expect(out).toEqual({ cookie: 'a=1; b=2', accept: 'text/html' });
    expect(requestHeaders({ cookie: 'buntime_preview=tok' })).toEqual({});
  });
});
