import { describe, expect, it } from 'vitest';
import { bodyHash, canonicalJson, idempotencyKey } from './idempotency.ts';

describe('canonical body hashing', () => {
  it('ignores key order at every depth', () => {
    const a = { ttl: 60, metadata: { b: 1, a: [1, { y: 2, x: 1 }] } };
    const b = { metadata: { a: [1, { x: 1, y: 2 }], b: 1 }, ttl: 60 };
    expect(canonicalJson(a)).toBe('{"metadata":{"a":[1,{"x":1,"y":2}],"b":1},"ttl":60}');
    expect(bodyHash(a)).toBe(bodyHash(b));
  });

  it('tells apart different values, array orders and types', () => {
    expect(bodyHash({ ttl: 60 })).not.toBe(bodyHash({ ttl: 61 }));
    expect(bodyHash({ a: [1, 2] })).not.toBe(bodyHash({ a: [2, 1] }));
    expect(bodyHash({ a: '1' })).not.toBe(bodyHash({ a: 1 }));
    expect(bodyHash({ a: null })).not.toBe(bodyHash({}));
  });

  it('treats undefined members as absent, like JSON', () => {
    expect(bodyHash({ a: 1, b: undefined })).toBe(bodyHash({ a: 1 }));
    expect(canonicalJson([undefined])).toBe('[null]');
  });

  it('keeps keys that need escaping distinct', () => {
    expect(canonicalJson({ 'a"b': 1 })).toBe('{"a\\"b":1}');
    expect(bodyHash({ 'a,b': 1 })).not.toBe(bodyHash({ a: 1, b: 1 }));
  });

  it('is a hex SHA-256', () => {
    expect(bodyHash({})).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('Idempotency-Key header', () => {
  it('accepts absent and visible ASCII keys', () => {
    expect(idempotencyKey(undefined)).toBeUndefined();
    expect(idempotencyKey('9b1f7c9e-2a4d-4a4e-9c1e-0d3c2b1a0f9e')).toBe('9b1f7c9e-2a4d-4a4e-9c1e-0d3c2b1a0f9e');
  });

  it('refuses empty, too long, spaced or non-ASCII keys with a 400 naming the header', () => {
    for (const bad of ['', 'x'.repeat(256), 'a b', 'clé']) {
      expect(() => idempotencyKey(bad)).toThrow(expect.objectContaining({ code: 'invalid_request', details: { field: 'Idempotency-Key' } }));
    }
  });
});
