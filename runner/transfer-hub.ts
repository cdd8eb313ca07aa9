import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BuntimeError } from '../core/errors.ts';
import { TRANSFER_ERROR_HEADER, isTransferId } from '../core/transfers.ts';

/** One HTTP exchange with the API that carries a job's bytes. */
export interface Transfer {
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the job's deadline passes: whatever moves the bytes must stop at once. */
  signal: AbortSignal;
}

/** How long an answered exchange's unread body is still read (and dropped) before its socket goes, ms. */
const LINGER_MS = 5_000;

interface Parked {
  transfer?: Transfer;
  waiter?: { resolve: (t: Transfer) => void; reject: (e: Error) => void };
  failure?: BuntimeError;
  timer: NodeJS.Timeout;
}

/** How long either side waits for the other, ms (a job that was dequeued is about to claim). */
const PAIR_WAIT_MS = 30_000;

/**
 * The runner's data plane towards the API: file contents and preview traffic move over plain
 * HTTP connections, never through Redis. A job names a transfer id (random, single use, known
 * only through the job's payload); the API connects with that id while the job runs, and the
 * two are paired here whichever comes first. A job that fails answers its transfer with the
 * error envelope, so the API learns every outcome from the HTTP answer.
 */
export class TransferHub {
  private readonly parked = new Map<string, Parked>();
  private server: Server | undefined;
  private url = '';

  /** Listens on `host:port` (0: any free port); resolves with the URL the API should use. */
  async start(host: string, port: number, advertise?: string): Promise<string> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.url = advertise ?? `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    return this.url;
  }

  get publicUrl(): string {
    return this.url;
  }

  async stop(): Promise<void> {
    for (const [id] of this.parked) this.fail(id, new BuntimeError('service_unavailable', 'runner stopping', { retryAfterSec: 1 }));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /**
   * Runs `fn` with the API's side of transfer `id`: waits for it, then answers it with `fn`'s
   * error if `fn` throws (`fn` answers it itself on success). At `deadlineMs` (a delay from now)
   * the transfer is cut: its streams are torn down, so nothing more is read or written for a
   * caller that has been told it failed.
   */
  async serve<T>(id: string, fn: (t: Transfer) => Promise<T>, deadlineMs?: number): Promise<T> {
    let transfer: Transfer | undefined;
    let timer: NodeJS.Timeout | undefined;
    const abort = new AbortController();
    try {
      transfer = { ...(await this.claim(id)), signal: abort.signal };
      const cut = new Promise<never>((_, reject) => {
        if (deadlineMs === undefined) return;
        timer = setTimeout(() => {
          const expired = new BuntimeError('execution_timeout', 'the transfer outlived its deadline');
          abort.abort(expired);
          reject(expired);
        }, Math.max(0, deadlineMs));
      });
      cut.catch(() => {});
      return await Promise.race([fn(transfer), cut]);
    } catch (err) {
      const be = err instanceof BuntimeError ? err : new BuntimeError('internal_error', 'internal error', { cause: err });
      if (transfer) {
        abort.abort(be);
        answerError(transfer.res, be);
        linger(transfer.req);
      } else this.fail(id, be);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private claim(id: string): Promise<Transfer> {
    const p = this.slot(id);
    if (p.transfer) {
      this.drop(id);
      return Promise.resolve(p.transfer);
    }
    if (p.failure) return Promise.reject(p.failure);
    return new Promise((resolve, reject) => { p.waiter = { resolve, reject }; });
  }

  /** Records that the job of `id` failed before the API connected; a later connection hears it. */
  private fail(id: string, err: BuntimeError): void {
    const p = this.slot(id);
    if (p.transfer) {
      answerError(p.transfer.res, err);
      this.drop(id);
      return;
    }
    p.waiter?.reject(err);
    p.waiter = undefined;
    p.failure = err;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const id = decodeURIComponent((req.url ?? '').slice(1));
    if (!isTransferId(id)) {
      answerError(res, new BuntimeError('not_found', 'unknown transfer'));
      return;
    }
    const p = this.slot(id);
    if (p.failure) {
      answerError(res, p.failure);
      this.drop(id);
      return;
    }
    if (p.waiter) {
      p.waiter.resolve({ req, res, signal: new AbortController().signal });
      this.drop(id);
      return;
    }
    p.transfer = { req, res, signal: new AbortController().signal };
    // The API gave up (its deadline passed): nothing will claim this any more.
    res.once('close', () => { if (this.parked.get(id)?.transfer?.res === res) this.drop(id); });
  }

  private slot(id: string): Parked {
    let p = this.parked.get(id);
    if (!p) {
      p = { timer: setTimeout(() => this.expire(id), PAIR_WAIT_MS) };
      p.timer.unref();
      this.parked.set(id, p);
    }
    return p;
  }

  private expire(id: string): void {
    const p = this.parked.get(id);
    if (!p) return;
    this.drop(id);
    const err = new BuntimeError('execution_timeout', 'the other side of a transfer never came');
    p.waiter?.reject(err);
    if (p.transfer) answerError(p.transfer.res, err);
  }

  private drop(id: string): void {
    const p = this.parked.get(id);
    if (p) clearTimeout(p.timer);
    this.parked.delete(id);
  }
}

/**
 * Reads and drops what is left of an answered request's body, so the API (still sending) reads
 * the answer instead of meeting a reset; the socket goes after a short linger at the latest.
 */
function linger(req: IncomingMessage): void {
  if (req.complete) return;
  req.unpipe();
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
}

/** Answers the API's side with an error envelope (marked, so it is never taken for data). */
export function answerError(res: ServerResponse, err: BuntimeError): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = JSON.stringify({ error: err.toBody(), retryAfterSec: err.retryAfterSec });
  res.writeHead(err.status, { 'content-type': 'application/json', [TRANSFER_ERROR_HEADER]: '1' });
  res.end(body);
}
