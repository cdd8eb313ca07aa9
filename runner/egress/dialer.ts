import { connect, isIP, type Socket } from 'node:net';
import { classifyAddress } from './address-class.ts';

/** Why a dial failed. `guard`: refused by `EGRESS_TEST_GUARD` before any packet. */
export type DialFailure = 'timeout' | 'refused' | 'unreachable' | 'guard' | 'failed';

export class DialError extends Error {
  constructor(readonly failure: DialFailure, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'DialError';
  }
}

/** The seam through which the proxy opens upstream TCP connections. */
export interface Dialer {
  /**
   * Connects to exactly `address` (an IP literal, never a name: no lookup happens here) and
   * resolves once connected.
   * @param timeoutMs connect deadline, ms
   * @throws DialError
   */
  dial(address: string, port: number, timeoutMs: number): Promise<Socket>;
}

/** Counters of a {@link NetDialer}. */
export interface DialerStats {
  /** Connection attempts that went to the network. */
  dials: number;
  /** Attempts refused by the test guard (non-loopback addresses); no packet was sent. */
  guardRefusals: number;
}

/** Options of {@link NetDialer}. */
export interface NetDialerOptions {
  /** `EGRESS_TEST_GUARD`: refuse (and count) every non-loopback address. */
  testGuard: boolean;
}

// A lookup that can never run: net.connect only calls it for names, and the dialer takes none.
const noLookup = (): never => {
  throw new Error('egress dialer: name lookups are not allowed');
};

/** Dials with `net.connect`, TCP keep-alive on (dead peers of long tunnels are noticed), Nagle off. */
export class NetDialer implements Dialer {
  readonly stats: DialerStats = { dials: 0, guardRefusals: 0 };

  constructor(private readonly opts: NetDialerOptions) {}

  dial(address: string, port: number, timeoutMs: number): Promise<Socket> {
    if (isIP(address) === 0) return Promise.reject(new DialError('failed', `not an IP address: ${address}`));
    if (this.opts.testGuard && classifyAddress(address).range !== 'loopback') {
      this.stats.guardRefusals++;
      return Promise.reject(new DialError('guard', `test guard: ${address} is not loopback`));
    }
    this.stats.dials++;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address, port, lookup: noLookup as never });
      const fail = (err: DialError) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new DialError('timeout', `connect to ${address}:${port} timed out`)), timeoutMs);
      socket.once('error', (err) => fail(mapError(err, address, port)));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setKeepAlive(true, 60_000);
        // The proxy forwards segments as they come: Nagle would hold small ones (TLS handshakes).
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
  }
}

/**
 * Tries `addresses` in order (all of them already checked) until one connects, splitting
 * `timeoutMs` evenly over the attempts still to make, so a black-holed first address cannot eat
 * the whole deadline of the others.
 */
export async function dialFirst(dialer: Dialer, addresses: readonly string[], port: number, timeoutMs: number): Promise<{ socket: Socket; address: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = new DialError('failed', 'no address to dial');
  for (let i = 0; i < addresses.length; i++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const socket = await dialer.dial(addresses[i]!, port, Math.ceil(left / (addresses.length - i)));
      return { socket, address: addresses[i]! };
    } catch (err) {
      last = err;
      if (err instanceof DialError && err.failure === 'guard') break;
    }
  }
  throw last instanceof DialError ? last : new DialError('failed', 'connect failed', last);
}

function mapError(err: NodeJS.ErrnoException, address: string, port: number): DialError {
  const where = `${address}:${port}`;
  if (err.code === 'ECONNREFUSED') return new DialError('refused', `connection to ${where} refused`, err);
  if (err.code === 'ENETUNREACH' || err.code === 'EHOSTUNREACH') return new DialError('unreachable', `${where} is unreachable`, err);
  if (err.code === 'ETIMEDOUT') return new DialError('timeout', `connect to ${where} timed out`, err);
  return new DialError('failed', `connect to ${where} failed (${err.code ?? 'error'})`, err);
}
