import { describe, expect, it } from 'vitest';
import { classifyAddress } from './address-class.ts';

const refused: Array<[string, string]> = [
  // IPv4
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['100.127.255.255', 'carrierGradeNat'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'], // TEST-NET-1
  ['198.51.100.1', 'reserved'], // TEST-NET-2
  ['203.0.113.1', 'reserved'], // TEST-NET-3
  ['198.18.0.1', 'reserved'], // benchmarking
  ['240.0.0.1', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['192.175.48.1', 'as112'],
  ['192.52.193.1', 'amt'],
  // IPv6
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fd00::1', 'uniqueLocal'],
  ['fc00::1', 'uniqueLocal'],
  ['fe80::1', 'linkLocal'],
  ['fe80::1%eth0', 'zoned'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'reserved'], // documentation
  ['3fff::1', 'reserved'], // documentation (RFC 9637)
  ['2001:2::1', 'benchmarking'],
  ['100::1', 'discard'],
  ['fec0::1', 'deprecatedSiteLocal'],
  ['5f00::1', 'segmentRouting'],
  ['4000::1', 'unassigned'],
  // IPv4 inside IPv6
  ['::ffff:10.0.0.1', 'ipv4Mapped'],
  ['::ffff:8.8.8.8', 'ipv4Mapped'],
  ['::ffff:0:a00:1', 'rfc6145'],
  ['::a00:1', 'ipv4Compatible'],
  ['::8.8.8.8', 'ipv4Mapped'], // ipaddr.js reads dotted IPv4-compatible text as mapped: refused either way
  ['64:ff9b::a00:1', 'rfc6052:private'],
  ['64:ff9b::a9fe:a9fe', 'rfc6052:linkLocal'],
  ['64:ff9b::7f00:1', 'rfc6052:loopback'],
  ['64:ff9b:1::808:808', 'rfc6052'], // local-use prefix: refused whatever it embeds
  ['2002:a00:1::1', '6to4:private'],
  ['2002:7f00:1::1', '6to4:loopback'],
  ['2002:a9fe:a9fe::1', '6to4:linkLocal'],
  ['2001:0:a00:1::1', 'teredo:private'], // server 10.0.0.1
  ['2001:0:808:808:0:0:f5ff:fffe', 'teredo:private'], // client ~f5ff:fffe = 10.0.0.1
  ['not an address', 'invalid'],
  ['', 'invalid'],
];

const allowed: Array<[string, string]> = [
  ['8.8.8.8', 'unicast'],
  ['1.1.1.1', 'unicast'],
  ['100.63.255.255', 'unicast'], // just below CGNAT
  ['172.32.0.1', 'unicast'], // just above 172.16/12
  ['2606:4700:4700::1111', 'unicast'],
  ['2a00:1450:4001:80b::200e', 'unicast'],
  ['64:ff9b::808:808', 'rfc6052'], // NAT64 of 8.8.8.8
  ['2002:808:808::1', '6to4'],
  ['2001:0:808:808:0:0:f7f7:f7f7', 'teredo'], // server 8.8.8.8, client 8.8.8.8
];

describe('classifyAddress', () => {
  it.each(refused)('refuses %s (%s)', (address, range) => {
    const c = classifyAddress(address);
    expect(c.allowed).toBe(false);
    expect(c.range).toBe(range);
  });

  it.each(allowed)('allows %s (%s)', (address, range) => {
    const c = classifyAddress(address);
    expect(c.allowed).toBe(true);
    expect(c.range).toBe(range);
  });

  it('canonicalises odd IPv4 spellings before judging them, so the dialer gets dotted quads', () => {
    for (const odd of ['2130706433', '0x7f.1', '0177.0.0.1', '127.1']) {
      expect(classifyAddress(odd)).toMatchObject({ allowed: false, range: 'loopback', address: '127.0.0.1' });
    }
    expect(classifyAddress('0x08080808')).toMatchObject({ allowed: true, address: '8.8.8.8' });
  });

  it('names the embedded IPv4 address that decided', () => {
    expect(classifyAddress('::ffff:10.0.0.1').embedded).toBe('10.0.0.1');
    expect(classifyAddress('64:ff9b::a00:1').embedded).toBe('10.0.0.1');
    expect(classifyAddress('2002:a9fe:a9fe::1').embedded).toBe('169.254.169.254');
    expect(classifyAddress('2001:0:808:808:0:0:f5ff:fffe').embedded).toBe('10.0.0.1');
  });
});
