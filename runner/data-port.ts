import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { DataHeader } from '../core/agent-protocol.ts';
import { BuntimeError } from '../core/errors.ts';

/** Longest header line accepted before a connection is dropped. */
const MAX_HEADER = 1024;
/** How long a requested stream waits for the agent to connect, ms. */
const STREAM_WAIT_MS = 10_000;
const SOCKET_NAME = 'data.sock';

/** Receives the connections user programs make to the session's egress proxy. */
export type EgressHandler = (socket: Socket) => void;

interface Expected {
  resolve: (socket: Socket) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The runner's end of one session's data channel (core/agent-protocol.ts): a unix socket in a
 * root-only host directory that is bind-mounted into the container. The agent connects once per
 * stream and names it in a header line; a runner-requested stream (`expect`) is handed to its
 * waiter, an egress connection to the egress handler.
 */
export class DataPort {
  private readonly expected = new Map<string, Expected>();
  private readonly connections = new Set<Socket>();
  private onEgress: EgressHandler | undefined;

  private constructor(
    /** Host directory to bind-mount into the container. */
    readonly hostDir: string,
    private readonly server: Server,
    /** Inode of the socket this port created (a later port may replace it at the same path). */
    private readonly socketIno: number,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens at `<root>/<sessionId>/data.sock` (a stale socket of an earlier runner is replaced). */
  static async open(root: string, sessionId: string): Promise<DataPort> {
    const dir = join(root, sessionId.replace(/[^\w-]/g, '_'));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const path = join(dir, SOCKET_NAME);
    await rm(path, { force: true });
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    return new DataPort(dir, server, (await stat(path)).ino);
  }

  /** Routes egress connections to `handler` from now on. */
  handleEgress(handler: EgressHandler): void {
    this.onEgress = handler;
  }

  /** A fresh stream token and the socket the agent will connect for it. */
  expect(waitMs = STREAM_WAIT_MS): { token: string; socket: Promise<Socket> } {
    const token = randomBytes(18).toString('base64url');
    const socket = new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.expected.delete(token);
        reject(new BuntimeError('service_unavailable', 'the sandbox did not open a data stream', { retryAfterSec: 1 }));
      }, waitMs);
      this.expected.set(token, { resolve, reject, timer });
    });
    // A request that failed before its stream came leaves this promise unobserved.
    socket.catch(() => {});
    return { token, socket };
  }

  /** Stops waiting for `token` (its request failed); a late connection is dropped. */
  forget(token: string): void {
    const e = this.expected.get(token);
    if (!e) return;
    clearTimeout(e.timer);
    this.expected.delete(token);
    e.reject(new Error('stream no longer wanted'));
  }

  /**
   * Stops listening (runner stopping). The directory stays: the container's bind mount holds
   * it, and the next runner listens in it again.
   */
  async close(): Promise<void> {
    for (const token of [...this.expected.keys()]) this.forget(token);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // close() waits for every connection; the session's streams end with it.
    for (const socket of this.connections) socket.destroy();
    await closed;
    const path = join(this.hostDir, SOCKET_NAME);
    // Only our own socket: a newer port of the same session may already listen at this path.
    if ((await stat(path).catch(() => undefined))?.ino === this.socketIno) await rm(path, { force: true });
  }

  /** Stops listening and removes the directory (the session is gone). */
  async destroy(): Promise<void> {
    await this.close();
    await rm(this.hostDir, { recursive: true, force: true });
  }

  private accept(socket: Socket): void {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    readHeader(socket).then((header) => {
      if (header?.kind === 'stream') return this.deliver(header.token, socket);
      if (header?.kind === 'egress' && this.onEgress) return this.onEgress(socket);
      socket.destroy();
    }, () => socket.destroy());
  }

  private deliver(token: string, socket: Socket): void {
    const e = this.expected.get(token);
    if (!e) {
      socket.destroy();
      return;
    }
    clearTimeout(e.timer);
    this.expected.delete(token);
    e.resolve(socket);
  }
}

/**
 * Reads the header line; bytes after it are put back for whoever reads the socket next. Read in
 * paused mode (an iterator, not a 'data' listener), so the socket is left as new: the next
 * consumer's own listener or pipe starts the flow and nothing is lost in between.
 */
async function readHeader(socket: Socket): Promise<DataHeader | undefined> {
  let buf = Buffer.alloc(0);
  for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    const nl = buf.indexOf(10);
    if (nl === -1) {
      if (buf.length > MAX_HEADER) return undefined;
      continue;
    }
    const rest = buf.subarray(nl + 1);
    if (rest.length > 0) socket.unshift(rest);
    return parseHeader(buf.subarray(0, nl).toString('utf8'));
  }
  return undefined;
}

function parseHeader(line: string): DataHeader | undefined {
  try {
    const h = JSON.parse(line) as { kind?: unknown; token?: unknown };
    if (h.kind === 'egress') return { kind: 'egress' };
    if (h.kind === 'stream' && typeof h.token === 'string') return { kind: 'stream', token: h.token };
  } catch {
    // not a header
  }
  return undefined;
}
