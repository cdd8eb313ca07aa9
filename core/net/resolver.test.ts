import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResolveError, StaticResolver, SystemResolver } from './resolver.ts';

type Zone = Record<string, { A?: string[]; AAAA?: string[] } | 'nxdomain' | 'drop'>;

/** A DNS server on 127.0.0.1 answering from `zone`; it counts the queries it saw. */
async function startDns(zone: Zone): Promise<{ port: number; queries: string[]; socket: Socket }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    const { name, type, end } = readQuestion(msg);
    queries.push(`${name} ${type === 1 ? 'A' : type === 28 ? 'AAAA' : type}`);
    const entry = zone[name];
    if (entry === 'drop') return;
    const rcode = entry === undefined || entry === 'nxdomain' ? 3 : 0;
    const answers = typeof entry === 'object' ? (type === 1 ? entry.A : type === 28 ? entry.AAAA : undefined) ?? [] : [];
    socket.send(answer(msg, end, rcode, answers), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, queries, socket };
}

function readQuestion(msg: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let i = 12;
  while (msg[i]! > 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString());
    i += msg[i]! + 1;
  }
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i + 1), end: i + 5 };
}

function answer(query: Buffer, questionEnd: number, rcode: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((a) => {
    const rdata = Buffer.from(ipaddr.parse(a).toByteArray());
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(isIPv4(a) ? 1 : 28, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

describe('SystemResolver (c-ares against a DNS server on loopback)', () => {
  let dns: Awaited<ReturnType<typeof startDns>>;
  const resolver = (timeoutMs = 2000) => new SystemResolver({ timeoutMs, servers: [`127.0.0.1:${dns.port}`] });

  beforeAll(async () => {
    dns = await startDns({
      'both.test': { A: ['93.184.216.34', '10.0.0.1'], AAAA: ['2606:2800:220:1::1'] },
      'v4only.test': { A: ['1.1.1.1'] },
      'v6only.test': { AAAA: ['::1'] },
      'gone.test': 'nxdomain',
      'slow.test': 'drop',
    });
  });
  afterAll(() => dns.socket.close());

  it('returns every A and AAAA address, IPv4 first', async () => {
    expect(await resolver().resolve('both.test')).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.1', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    expect(dns.queries).toEqual(expect.arrayContaining(['both.test A', 'both.test AAAA']));
  });

  it('takes whichever family exists', async () => {
    expect(await resolver().resolve('v4only.test')).toEqual([{ address: '1.1.1.1', family: 4 }]);
    expect(await resolver().resolve('v6only.test')).toEqual([{ address: '::1', family: 6 }]);
  });

  it('reports NXDOMAIN as not_found', async () => {
    await expect(resolver().resolve('gone.test')).rejects.toMatchObject({ failure: 'not_found' });
  });

  it('gives up at its deadline when the server never answers', async () => {
    const started = Date.now();
    const err = await resolver(400).resolve('slow.test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as ResolveError).failure).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('StaticResolver', () => {
  it('answers not_found for every name', async () => {
    const r = new StaticResolver();
    await expect(r.resolve('example.org')).rejects.toMatchObject({ failure: 'not_found' });
    expect(r.lookups).toBe(1);
  });

  it('answers the names of its table, and only those', async () => {
    const r = new StaticResolver([{ name: 'private.test', address: '10.1.2.3' }, { name: 'v6.test', address: 'fd00::1' }]);
    expect(await r.resolve('private.test')).toEqual([{ address: '10.1.2.3', family: 4 }]);
    expect(await r.resolve('v6.test')).toEqual([{ address: 'fd00::1', family: 6 }]);
    await expect(r.resolve('other.test')).rejects.toMatchObject({ failure: 'not_found' });
  });
});
