import { describe, expect, it } from 'vitest';
import { BuntimeError } from '../core/errors.ts';
import { executeBody, isBase64, parse, resolveInWorkspace } from './validation.ts';

describe('resolveInWorkspace', () => {
  it.each([
    ['a.txt', '/workspace/a.txt'],
    ['./dir/../b.txt', '/workspace/b.txt'],
    ['/workspace/c/d', '/workspace/c/d'],
    ['/workspace', '/workspace'],
    ['.', '/workspace'],
    ['dir/', '/workspace/dir'],
  ])('keeps %s inside as %s', (input, expected) => {
    expect(resolveInWorkspace(input)).toBe(expected);
  });

  it.each(['../x', '/etc/passwd', '/workspace/../etc', 'a/../../x', '/workspacex/y', '/'])('refuses %s', (input) => {
    expect(resolveInWorkspace(input)).toBeUndefined();
  });
});

describe('executeBody', () => {
  it('names the offending field in details', () => {
    try {
      parse(executeBody, { sessionId: 's', code: '1', env: { 'A-B': 'x' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BuntimeError);
      expect((err as BuntimeError).code).toBe('invalid_request');
      expect((err as BuntimeError).details.field).toBe('env.A-B');
    }
  });

  it('asks for a JSON body when there is none', () => {
    expect(() => parse(executeBody, undefined)).toThrow(expect.objectContaining({ code: 'invalid_request', details: { field: 'body' } }));
  });

  it('accepts a minimal body', () => {
    expect(parse(executeBody, { sessionId: 's', command: 'true' })).toEqual({ sessionId: 's', command: 'true' });
  });

  it('refuses stream with background', () => {
    expect(() => parse(executeBody, { sessionId: 's', code: '1', stream: true, background: true })).toThrow(/stream/);
  });
});

describe('base64 content', () => {
  it.each(['', 'aGk=', 'aGk', 'aGVsbG8gd29ybGQ=', 'a-_b', 'aGVs\nbG8=', Buffer.from([0xfb, 0xff]).toString('base64')])('accepts %j', (t) => {
    expect(isBase64(t)).toBe(true);
  });

  it.each(['!!!', 'not base64 at all', 'aGk=x', 'a', 'aGk==a=', 'abcde=', '日本'])('refuses %j', (t) => {
    expect(isBase64(t)).toBe(false);
  });

  it('is a 400 naming the content of an execute file', () => {
    const bad = { sessionId: 's', code: '1', files: [{ path: 'a', content: '%%%', encoding: 'base64' }] };
    expect(() => parse(executeBody, bad)).toThrow(expect.objectContaining({ code: 'invalid_request', details: expect.objectContaining({ field: 'files.0.content' }) }));
    expect(parse(executeBody, { ...bad, files: [{ path: 'a', content: '%%%' }] }).files?.[0]?.content).toBe('%%%');
  });
});
