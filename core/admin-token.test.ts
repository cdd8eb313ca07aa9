import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { MAX_ADMIN_TTL_SEC, signAdminToken, verifyAdminToken } from './admin-token.ts';

const SECRET = 'test-secret-0123456789abcdef';
const inFive = () => Math.floor(Date.now() / 1000) + 300;

describe('admin tokens', () => {
  it('verify what they sign: HS256, scope admin, an exp ttl seconds ahead', () => {
    const { token, expiresAt } = signAdminToken(SECRET, 600);
    const decoded = jwt.decode(token, { complete: true })!;
    expect(decoded.header.alg).toBe('HS256');
    expect(decoded.payload).toMatchObject({ scope: 'admin' });
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(598_000);
    expect(verifyAdminToken(SECRET, token)).toBe(true);
  });

  it('refuse other secrets, algorithms, missing or past exp, other scopes', () => {
    expect(verifyAdminToken(`${SECRET}!`, signAdminToken(SECRET, 60).token)).toBe(false);
    expect(verifyAdminToken(SECRET, jwt.sign({ scope: 'admin', exp: inFive() }, SECRET, { algorithm: 'HS384' }))).toBe(false);
    expect(verifyAdminToken(SECRET, jwt.sign({ scope: 'admin' }, SECRET, { algorithm: 'HS256' }))).toBe(false);
    expect(verifyAdminToken(SECRET, jwt.sign({ scope: 'admin', exp: inFive() - 600 }, SECRET, { algorithm: 'HS256' }))).toBe(false);
    expect(verifyAdminToken(SECRET, jwt.sign({ scope: 'session', exp: inFive() }, SECRET, { algorithm: 'HS256' }))).toBe(false);
    expect(verifyAdminToken(SECRET, 'garbage')).toBe(false);
  });

  it('refuse a token whose exp lies further ahead than the maximum lifetime', () => {
    const now = Math.floor(Date.now() / 1000);
    const at = (exp: number) => jwt.sign({ scope: 'admin', exp }, SECRET, { algorithm: 'HS256' });
    expect(verifyAdminToken(SECRET, at(now + 10 * 365 * 86_400))).toBe(false);
    expect(verifyAdminToken(SECRET, at(now + 86_400 + 60))).toBe(false);
    expect(verifyAdminToken(SECRET, at(now + 86_400 - 60))).toBe(true);
    expect(verifyAdminToken(SECRET, at(now + 7200), 3600)).toBe(false);
    expect(verifyAdminToken(SECRET, at(now + 3000), 3600)).toBe(true);
  });

  it('refuse to mint for a ttl out of range', () => {
    for (const ttl of [0, 1.5, MAX_ADMIN_TTL_SEC + 1]) expect(() => signAdminToken(SECRET, ttl)).toThrow(RangeError);
  });
});
