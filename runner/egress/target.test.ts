import { describe, expect, it } from 'vitest';
import { formatTarget, parseAuthority, parseHttpTarget, sameAuthority } from './target.ts';

describe('parseHttpTarget', () => {
  it('reads host, port and the path exactly as written', () => {
    expect(parseHttpTarget('http://Example.ORG/a/../b?x=%41#frag')).toEqual({ host: 'example.org', port: 80, ip: false, path: '/a/../b?x=%41' });
    expect(parseHttpTarget('http://fixture.test:8080')).toEqual({ host: 'fixture.test', port: 8080, ip: false, path: '/' });
    expect(parseHttpTarget('http://a.test?q=1')).toMatchObject({ host: 'a.test', path: '/?q=1' });
    expect(parseHttpTarget('HTTP://a.test.:80/')).toMatchObject({ host: 'a.test', port: 80 });
  });

  it('canonicalises IP literals, odd IPv4 spellings included', () => {
    expect(parseHttpTarget('http://[::1]:8080/')).toMatchObject({ host: '::1', port: 8080, ip: true });
    expect(parseHttpTarget('http://[::ffff:10.0.0.1]/')).toMatchObject({ host: '::ffff:a00:1', ip: true });
    expect(parseHttpTarget('http://169.254.169.254/latest/meta-data/')).toMatchObject({ host: '169.254.169.254', ip: true });
    expect(parseHttpTarget('http://2852039166/')).toMatchObject({ host: '169.254.169.254', ip: true });
    expect(parseHttpTarget('http://0x7f.1:81/')).toMatchObject({ host: '127.0.0.1', port: 81, ip: true });
  });

  it('names what is wrong with targets it cannot proxy', () => {
    expect(parseHttpTarget('https://example.org/')).toBe('https_without_connect');
    expect(parseHttpTarget('/hello')).toBe('not_absolute');
    expect(parseHttpTarget('*')).toBe('not_absolute');
    expect(parseHttpTarget('ftp://example.org/')).toBe('unsupported_scheme');
    expect(parseHttpTarget('http://user:pw@example.org/')).toBe('bad_target');
    expect(parseHttpTarget('http://a.test:99999/')).toBe('bad_target');
    expect(parseHttpTarget('http:///x')).toBe('bad_target');
  });
});

describe('parseAuthority', () => {
  it('reads CONNECT targets, which must carry a port', () => {
    expect(parseAuthority('Fixture.Test:443', 443, true)).toEqual({ host: 'fixture.test', port: 443, ip: false });
    expect(parseAuthority('[2001:db8::1]:443', 443, true)).toEqual({ host: '2001:db8::1', port: 443, ip: true });
    expect(parseAuthority('fixture.test', 443, true)).toBeNull();
    expect(parseAuthority('a@b.test:443', 443, true)).toBeNull();
    expect(parseAuthority('b.test:443/x', 443, true)).toBeNull();
    expect(parseAuthority('b.test:0', 443, true)).toBeNull();
  });

  it('reads Host headers with the scheme default port', () => {
    expect(parseAuthority('a.test', 80)).toEqual({ host: 'a.test', port: 80, ip: false });
    expect(parseAuthority('a.test:080', 443)).toMatchObject({ port: 80 });
    expect(sameAuthority(parseAuthority('A.test:80', 80)!, parseHttpTarget('http://a.test/') as never)).toBe(true);
    expect(sameAuthority(parseAuthority('b.test', 80)!, parseHttpTarget('http://a.test/') as never)).toBe(false);
  });

  it('formats targets for messages', () => {
    expect(formatTarget({ host: '::1', port: 80, ip: true })).toBe('[::1]:80');
    expect(formatTarget({ host: 'a.test', port: 443, ip: false })).toBe('a.test:443');
  });
});
