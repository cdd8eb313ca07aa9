import { describe, expect, it } from 'vitest';
import { ResolveError, type NameResolver } from '../net/resolver.ts';
import { TargetChecker, TargetRefusal } from './target.ts';

/** Answers from a table; counts what it was asked (no query leaves the process). */
class Table implements NameResolver {
  readonly asked: string[] = [];
  constructor(private readonly table: Record<string, string[] | 'timeout'>) {}
  async resolve(name: string) {
    this.asked.push(name);
    const entry = this.table[name];
    if (entry === 'timeout') throw new ResolveError('timeout', name);
    if (!entry) throw new ResolveError('not_found', name);
    return entry.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 }));
  }
}

const table = new Table({
  'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'private.example.com': ['10.1.2.3'],
  'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
  'metadata.example.com': ['169.254.169.254'],
  'mapped.example.com': ['::ffff:192.168.0.1'],
  'slow.example.com': 'timeout',
});
const checker = new TargetChecker(table, [
  { name: 'hooks.internal', address: '127.0.0.1', port: 9999 },
  { name: 'relay.internal', address: '10.0.0.5' },
]);

async function refusal(url: string): Promise<TargetRefusal> {
  const err = await checker.check(url).then(() => undefined, (e: unknown) => e);
  expect(err, url).toBeInstanceOf(TargetRefusal);
  return err as TargetRefusal;
}

describe('webhook targets', () => {
  it('accept https to names whose every address is public, and name the exact addresses to dial', async () => {
    const t = await checker.check('https://Hooks.Example.com./in?x=1');
    expect(t).toMatchObject({ host: 'hooks.example.com', port: 443, tls: true, internal: false });
    expect(t.addresses).toEqual(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
    expect((await checker.check('https://93.184.216.34:8443/')).addresses).toEqual(['93.184.216.34']);
  });

  it('refuse private, loopback, link-local and mapped addresses, by literal or by name', async () => {
    for (const url of [
      'https://10.1.2.3/', 'https://127.0.0.1/', 'https://[::1]/', 'https://169.254.169.254/latest/meta-data',
      'https://[::ffff:10.1.2.3]/', 'https://0x7f.1/', 'https://2130706433/', 'https://100.64.0.1/', 'https://[fd00::1]/',
      'https://private.example.com/', 'https://mixed.example.com/', 'https://metadata.example.com/', 'https://mapped.example.com/',
    ]) {
      const r = await refusal(url);
      expect(r.reason, url).toBe('address_refused');
      expect(r.transient, url).toBe(false);
    }
  });

  it('refuse plain http, other schemes, credentials and junk', async () => {
    expect((await refusal('http://hooks.example.com/')).reason).toBe('scheme_refused');
    expect((await refusal('http://93.184.216.34/')).reason).toBe('scheme_refused');
    expect((await refusal('ftp://hooks.example.com/')).reason).toBe('scheme_refused');
    expect((await refusal('https://user:pw@hooks.example.com/')).reason).toBe('invalid_url');
    expect((await refusal('not a url')).reason).toBe('invalid_url');
    expect((await refusal(`https://hooks.example.com/${'a'.repeat(2100)}`)).reason).toBe('invalid_url');
  });

  it('report DNS failures as such, retryable', async () => {
    const missing = await refusal('https://nowhere.example.com/');
    expect([missing.reason, missing.transient]).toEqual(['dns_not_found', true]);
    expect((await refusal('https://slow.example.com/')).reason).toBe('dns_timeout');
  });

  it('reach internal hosts at their own address with no DNS query, plain http allowed', async () => {
    const before = table.asked.length;
    const t = await checker.check('http://hooks.internal/hook');
    expect(t).toMatchObject({ host: 'hooks.internal', port: 9999, tls: false, internal: true, addresses: ['127.0.0.1'] });
    expect((await checker.check('https://relay.internal:8443/')).addresses).toEqual(['10.0.0.5']);
    expect((await checker.check('https://relay.internal:8443/')).port).toBe(8443);
    expect(table.asked.length).toBe(before);
  });
});
