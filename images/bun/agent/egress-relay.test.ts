import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataChannel } from './data-channel.ts';
import { EgressRelay } from './egress-relay.ts';

/** A stand-in for the runner's data socket: records each connection's bytes, echoes after the header. */
async function fakeRunner(path: string): Promise<{ server: Server; received: Buffer[]; sockets: Socket[] }> {
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    const i = received.push(Buffer.alloc(0)) - 1;
    s.on('data', (c: Buffer) => {
      received[i] = Buffer.concat([received[i]!, c]);
      const text = received[i]!.toString();
      if (text.includes('\n') && text.endsWith('PING')) s.write('PONG');
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, received, sockets };
}

function exchange(port: number, send: string, until: (got: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString();
      if (until(got)) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('close', () => resolve(got));
    s.write(send);
  });
}

describe('EgressRelay', () => {
  const dirs: string[] = [];
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const s of stops.splice(0)) s();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(maxConnections?: number) {
    const dir = mkdtempSync(join(tmpdir(), 'egress-relay-'));
    dirs.push(dir);
    const runner = await fakeRunner(join(dir, 'data.sock'));
    const relay = new EgressRelay(new DataChannel(join(dir, 'data.sock')), { port: 0, maxConnections });
    const port = await relay.start();
    stops.push(() => {
      relay.stop();
      for (const s of runner.sockets) s.destroy();
      runner.server.close();
    });
    return { runner, relay, port };
  }

  it('relays each client connection on a data connection of kind egress, bytes unchanged, both ways', async () => {
    const { runner, port } = await setup();
    expect(await exchange(port, 'PING', (g) => g === 'PONG')).toBe('PONG');
    expect(runner.received[0]!.toString()).toBe('{"kind":"egress"}\nPING');
  });

  it('closes the data connection when its client is gone, though the runner\'s end stays open', async () => {
    const { runner, relay, port } = await setup();
    const client = connect(port, '127.0.0.1');
    client.write('CONNECT x.test:443 HTTP/1.1\r\n\r\n');
    await expect.poll(() => runner.sockets.length).toBe(1);
    const closed = new Promise<void>((r) => runner.sockets[0]!.once('close', () => r()));
    client.destroy();
    await closed;
    await expect.poll(() => relay.connections).toBe(0);
  });

  it('when the runner\'s end goes, the client gets what was sent, then the connection closes', async () => {
    const { runner, port } = await setup();
    const client = connect(port, '127.0.0.1');
    let got = '';
    client.on('data', (c: Buffer) => (got += c.toString()));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.write('hello');
    await expect.poll(() => runner.sockets.length).toBe(1);
    runner.sockets[0]!.end('last words');
    await closed;
    expect(got).toBe('last words');
  });

  it('answers 503 relay_limit past its connection cap, without opening a data connection', async () => {
    const { runner, relay, port } = await setup(1);
    const held = connect(port, '127.0.0.1');
    held.write('x');
    await expect.poll(() => runner.sockets.length).toBe(1);
    const over = await exchange(port, 'PING', () => false);
    expect(over).toMatch(/^HTTP\/1\.1 503 .*\r\n[\s\S]*X-Buntime-Egress: relay_limit\r\n[\s\S]*relay_limit: /);
    expect(runner.sockets).toHaveLength(1);
    held.destroy();
    await expect.poll(() => relay.connections).toBe(0);
  });

  it('answers 503 relay_unavailable when the runner cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'egress-relay-'));
    dirs.push(dir);
    const relay = new EgressRelay(new DataChannel(join(dir, 'absent.sock')), { port: 0 });
    const port = await relay.start();
    stops.push(() => relay.stop());
    expect(await exchange(port, 'GET http://x.test/ HTTP/1.1\r\n\r\n', () => false)).toMatch(/^HTTP\/1\.1 503 [\s\S]*relay_unavailable: /);
  });
});
