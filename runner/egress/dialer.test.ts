import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialError, dialFirst, NetDialer, type Dialer } from './dialer.ts';

describe('NetDialer', () => {
  let server: Server;
  let port: number;
  let closedPort: number;

  beforeAll(async () => {
    server = createServer((s) => s.on('error', () => {}).end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closedPort = (tmp.address() as { port: number }).port;
    await new Promise((r) => tmp.close(r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('connects to exactly the address given', async () => {
    const dialer = new NetDialer({ testGuard: true });
    const socket = await dialer.dial('127.0.0.1', port, 2000);
    expect(socket.remoteAddress).toBe('127.0.0.1');
    socket.destroy();
    expect(dialer.stats).toEqual({ dials: 1, guardRefusals: 0 });
  });

  it('never looks a name up', async () => {
    const dialer = new NetDialer({ testGuard: false });
    await expect(dialer.dial('localhost', port, 2000)).rejects.toMatchObject({ failure: 'failed' });
    expect(dialer.stats.dials).toBe(0);
  });

  it('with the test guard refuses and counts every non-loopback address, sending nothing', async () => {
    const dialer = new NetDialer({ testGuard: true });
    for (const a of ['10.0.0.1', '169.254.169.254', '8.8.8.8', '::ffff:127.0.0.1', 'fd00::1']) {
      await expect(dialer.dial(a, 80, 2000)).rejects.toMatchObject({ failure: 'guard' });
    }
    expect(dialer.stats).toEqual({ dials: 0, guardRefusals: 5 });
  });

  it('reports a refused connection', async () => {
    const dialer = new NetDialer({ testGuard: true });
    await expect(dialer.dial('127.0.0.1', closedPort, 2000)).rejects.toMatchObject({ failure: 'refused' });
  });

  it('dialFirst moves on to the next checked address', async () => {
    const dialer = new NetDialer({ testGuard: true });
    // The server listens on 127.0.0.1 only: 127.0.0.2 refuses.
    const { socket, address } = await dialFirst(dialer, ['127.0.0.2', '127.0.0.1'], port, 2000);
    expect(address).toBe('127.0.0.1');
    expect(dialer.stats.dials).toBe(2);
    socket.destroy();
  });
});

describe('dialFirst', () => {
  /** A dialer that records the timeouts it was given; addresses in `hang` never connect. */
  function recording(hang: string[]) {
    const calls: Array<{ address: string; timeoutMs: number }> = [];
    const dialer: Dialer = {
      dial: (address, _port, timeoutMs) => {
        calls.push({ address, timeoutMs });
        if (hang.includes(address)) {
          return new Promise((_, reject) => setTimeout(() => reject(new DialError('timeout', 'timed out')), timeoutMs));
        }
        return Promise.resolve({ destroy() {} } as unknown as Socket);
      },
    };
    return { dialer, calls };
  }

  it('splits the deadline over the addresses left, so a black hole cannot eat it all', async () => {
    const { dialer, calls } = recording(['192.0.2.1']);
    const r = await dialFirst(dialer, ['192.0.2.1', '198.51.100.1'], 443, 400);
    expect(r.address).toBe('198.51.100.1');
    expect(calls[0]!.timeoutMs).toBe(200);
    expect(calls[1]!.timeoutMs).toBeGreaterThan(150);
  });

  it('fails with the last error when none connects', async () => {
    const { dialer } = recording(['192.0.2.1', '192.0.2.2']);
    await expect(dialFirst(dialer, ['192.0.2.1', '192.0.2.2'], 443, 100)).rejects.toMatchObject({ failure: 'timeout' });
  });

  it('stops at the first guard refusal', async () => {
    const dialer = new NetDialer({ testGuard: true });
    await expect(dialFirst(dialer, ['10.0.0.1', '10.0.0.2'], 80, 1000)).rejects.toMatchObject({ failure: 'guard' });
    expect(dialer.stats).toEqual({ dials: 0, guardRefusals: 1 });
  });
});
