import { request, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuntimeError } from '../core/errors.ts';
import { TRANSFER_ERROR_HEADER } from '../core/transfers.ts';

/** The runner's answer on a transfer: its status, headers and body stream. */
export interface TransferAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/**
 * The API's side of the data plane (`core/transfers.ts`): opens `<transferUrl>/<id>` on the
 * runner hosting the session, streams a request body to it and hands back its answer as a
 * stream. An error envelope from the runner becomes the matching {@link BuntimeError}; a runner
 * that cannot be reached is a 503.
 */
export class TransferClient {
  /**
   * @param body what to send (a buffer, a stream such as the client's own request, or nothing)
   * @param timeoutMs how long the whole exchange may take before it is abandoned
   */
  async open(
    baseUrl: string, id: string,
    opts: { method?: string; headers?: Record<string, string>; body?: Buffer | Readable; timeoutMs: number; signal?: AbortSignal },
  ): Promise<TransferAnswer> {
    const url = new URL(`${baseUrl}/${encodeURIComponent(id)}`);
    const req = request(url, { method: opts.method ?? 'POST', headers: opts.headers, timeout: opts.timeoutMs, signal: opts.signal });
    // A body that fails on our side (e.g. over its size cap) is the reason, not the runner.
    let bodyError: unknown;
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (err) => reject(bodyError instanceof BuntimeError ? bodyError : unreachable(err)));
      req.once('timeout', () => req.destroy(new Error('transfer timed out')));
    });
    const sent = Buffer.isBuffer(opts.body) || opts.body === undefined
      ? new Promise<void>((resolve) => req.end(opts.body, resolve))
      : pipeline(opts.body, req).catch((err: unknown) => {
        bodyError = err;
        req.destroy(err as Error);
      });
    const res = await answered;
    void sent;
    if (res.headers[TRANSFER_ERROR_HEADER]) throw await errorOf(res);
    return { status: res.statusCode ?? 500, headers: res.headers, body: res };
  }

  /** Sends and reads back a small JSON answer. */
  async json<T>(baseUrl: string, id: string, opts: Parameters<TransferClient['open']>[2]): Promise<T> {
    const answer = await this.open(baseUrl, id, opts);
    return JSON.parse((await readAll(answer.body)).toString('utf8')) as T;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function errorOf(res: IncomingMessage): Promise<BuntimeError> {
  try {
    const body = JSON.parse((await readAll(res)).toString('utf8')) as { error?: unknown; retryAfterSec?: number };
    const err = BuntimeError.fromBody((body.error ?? {}) as Record<string, unknown>);
    return body.retryAfterSec === undefined ? err
      : new BuntimeError(err.code, err.message, { details: err.details, retryAfterSec: body.retryAfterSec });
  } catch (cause) {
    return new BuntimeError('internal_error', 'unreadable transfer error', { cause });
  }
}

function unreachable(cause: unknown): BuntimeError {
  return new BuntimeError('service_unavailable', 'the session\'s node cannot be reached', { cause, retryAfterSec: 5 });
}
