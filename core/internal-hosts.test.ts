import { describe, expect, it } from 'vitest';
import { parseInternalHosts } from './internal-hosts.ts';

describe('parseInternalHosts', () => {
  it('reads names, IPv4 and bracketed IPv6 addresses, optional ports', () => {
    expect(parseInternalHosts('fixture.test=127.0.0.1, Registry.Internal=10.1.2.3:4873,v6.test=[fd00::1]:8080,'))
      .toEqual([
        { name: 'fixture.test', address: '127.0.0.1' },
        { name: 'registry.internal', address: '10.1.2.3', port: 4873 },
        { name: 'v6.test', address: 'fd00::1', port: 8080 },
      ]);
  });

  it('is empty for an empty setting', () => {
    expect(parseInternalHosts('')).toEqual([]);
    expect(parseInternalHosts(' , ')).toEqual([]);
  });

  it('lists every malformed entry', () => {
    let message = '';
    try {
      parseInternalHosts('ok.test=127.0.0.1,bad,10.0.0.1=10.0.0.1,a.test=fd00::1,b.test=1.2.3.4:0,c.test=999.1.1.1,ok.test=127.0.0.2');
    } catch (err) {
      message = (err as Error).message;
    }
    for (const part of ['"bad"', '"10.0.0.1=10.0.0.1"', '"a.test=fd00::1"', '"b.test=1.2.3.4:0"', '"c.test=999.1.1.1"', 'named twice']) {
      expect(message).toContain(part);
    }
    expect(message).not.toContain('"ok.test=127.0.0.1"');
  });
});
