import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { isPreviewId, previewIdOf } from '../core/session-store.ts';
import { cookieValue, PreviewSite } from './preview-site.ts';

const req = (hostname: string, path = '/') => ({ hostname, path, headers: {} }) as unknown as Request;

describe('preview ids', () => {
  it('are DNS-safe, lowercase, stable and distinct for ids that differ only in case', () => {
    const a = previewIdOf('ses_AbCdEfGhIjKlMnOpQrSt');
    expect(a).toMatch(/^ses-[a-z2-7]{24}$/);
    expect(isPreviewId(a)).toBe(true);
    expect(previewIdOf('ses_AbCdEfGhIjKlMnOpQrSt')).toBe(a);
    expect(previewIdOf('ses_abcdefghijklmnopqrst')).not.toBe(a);
    expect(isPreviewId('ses-ABC')).toBe(false);
  });
});

describe('PreviewSite', () => {
  const hosted = new PreviewSite({ domain: 'preview.test:8443', scheme: 'https', publicUrl: () => 'https://api.example' });
  const paths = new PreviewSite({ domain: undefined, scheme: 'https', publicUrl: () => 'https://api.example' });

  it('hands out one origin per session with PREVIEW_DOMAIN, a path of the API without', () => {
    expect(hosted.urlOf('ses_x')).toBe(`https://${previewIdOf('ses_x')}.preview.test:8443/`);
    expect(paths.urlOf('ses_x')).toBe('https://api.example/preview/ses_x/');
  });

  it('tells preview hosts from the API\'s by Host', () => {
    expect(hosted.hostPreviewId(req('ses-abc.preview.test'))).toBe('ses-abc');
    expect(hosted.hostPreviewId(req('SES-ABC.Preview.Test.'))).toBe('ses-abc');
    expect(hosted.hostPreviewId(req('preview.test'))).toBe('');
    expect(hosted.hostPreviewId(req('a.b.preview.test'))).toBe('');
    expect(hosted.hostPreviewId(req('api.example'))).toBeUndefined();
    expect(hosted.hostPreviewId(req('evilpreview.test'))).toBeUndefined();
    expect(paths.hostPreviewId(req('ses-abc.preview.test'))).toBeUndefined();
    expect(paths.isPreviewRequest(req('api.example', '/preview/ses_x/'))).toBe(true);
    expect(hosted.isPreviewRequest(req('api.example', '/preview/ses_x/'))).toBe(false);
  });

  it('keeps its cookie host-only and Secure on https origins, path-scoped otherwise', () => {
    expect(hosted.cookieName).toBe('__Host-buntime_preview');
    expect(hosted.cookieOptions('ses_x')).toMatchObject({ path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
    expect(paths.cookieName).toBe('buntime_preview');
    expect(paths.cookieOptions('ses_x')).toMatchObject({ path: '/preview/ses_x/', httpOnly: true });
    expect(cookieValue('a=1; buntime_preview=t.o.k; b=2', 'buntime_preview')).toBe('t.o.k');
    expect(cookieValue('xbuntime_preview=1', 'buntime_preview')).toBeUndefined();
  });
});
