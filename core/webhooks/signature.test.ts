import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signatureHeader } from './signature.ts';

describe('webhook signatures', () => {
  it('are t=<unix s>,v1=<hex HMAC-SHA256 of "t.body"> keyed with the whole secret', () => {
    const body = '{"id":"evt_1","type":"session.created"}';
    const header = signatureHeader('whsec_test', body, 1_700_000_000.9);
    const expected = createHmac('sha256', 'whsec_test').update(`1700000000.${body}`).digest('hex');
    expect(header).toBe(`t=1700000000,v1=${expected}`);
    // A fixed vector, so that a change of scheme cannot pass unnoticed.
    expect(signatureHeader('s3cret-s3cret-s3cret', '{}', 1)).toBe(
      `t=1,v1=${createHmac('sha256', 's3cret-s3cret-s3cret').update('1.{}').digest('hex')}`);
  });

  it('change with the body, the timestamp and the secret', () => {
    const a = signatureHeader('k'.repeat(20), 'body', 100);
    expect(signatureHeader('k'.repeat(20), 'body!', 100)).not.toBe(a);
    expect(signatureHeader('k'.repeat(20), 'body', 101).split(',')[1]).not.toBe(a.split(',')[1]);
    expect(signatureHeader('j'.repeat(20), 'body', 100)).not.toBe(a);
  });

  it('generated secrets are whsec_ + 43 base64url characters, all different', () => {
    const secrets = new Set(Array.from({ length: 50 }, newWebhookSecret));
    expect(secrets.size).toBe(50);
    for (const s of secrets) expect(s).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  });
});
