import { describe, expect, it } from 'vitest';
import { HttpGuard } from './http-guard.ts';

const TOKEN = 'correct-horse-battery-staple';

describe('HttpGuard', () => {
  const guard = new HttpGuard({ token: TOKEN, allowedOrigins: ['https://ide.example'] });
  guard.allowOrigin('http://127.0.0.1:8765');

  it('lets through the right token without an Origin or with an allowed one', () => {
    expect(guard.check({ authorization: `Bearer ${TOKEN}` })).toEqual({ ok: true });
    expect(guard.check({ authorization: `bearer ${TOKEN}`, origin: 'HTTPS://IDE.example' })).toEqual({ ok: true });
    expect(guard.check({ authorization: `Bearer ${TOKEN}`, origin: 'http://127.0.0.1:8765' })).toEqual({ ok: true });
  });

  it('answers 401 without the right token', () => {
    for (const authorization of [undefined, '', TOKEN, `Basic ${TOKEN}`, 'Bearer wrong', `Bearer ${TOKEN}x`]) {
      expect(guard.check({ authorization })).toMatchObject({ ok: false, status: 401 });
    }
  });

  it('answers 403 to a foreign or opaque Origin, even with the right token', () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:9999', 'https://ide.example.evil']) {
      expect(guard.check({ authorization: `Bearer ${TOKEN}`, origin })).toMatchObject({ ok: false, status: 403 });
    }
  });
});
