import type { NextFunction, Request, Response } from 'express';
import { BuntimeError } from '../../core/errors.ts';
import { isConnectionError, redisUnavailable } from '../../core/redis.ts';
import { ctx } from './request-context.ts';

/** Turns anything thrown into the error envelope; unexpected errors are logged with the request id. */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toBuntimeError(err);
    const context = ctx(res);
    if (e.code === 'internal_error') context?.log.error({ err }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (!req.complete) lingerOnBody(req, res);
    if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (e.retryAfterSec !== undefined) res.setHeader('Retry-After', String(e.retryAfterSec));
    res.status(e.status).json({ error: e.toBody() });
  };
}

/** How long an answered request's unread body is still read (and dropped) before the connection goes, ms. */
const LINGER_MS = 5_000;

/**
 * An answer given before the request's body was read (an upload cut short): the rest of the body
 * is read and dropped, so the client — still sending — reads the answer instead of meeting a
 * reset, and the connection stays usable; a client that never finishes loses it after a linger.
 */
function lingerOnBody(req: Request, _res: Response): void {
  req.unpipe();
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
}

/** Maps body-parser, Redis and unknown errors to the catalogue. */
export function toBuntimeError(err: unknown): BuntimeError {
  if (err instanceof BuntimeError) return err;
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return new BuntimeError('payload_too_large', 'request body too large');
  if (type === 'entity.parse.failed') return new BuntimeError('invalid_request', 'malformed JSON body', { details: { field: 'body' } });
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new BuntimeError('invalid_request', 'unsupported body encoding', { details: { field: 'body' } });
  }
  if (isConnectionError(err)) return redisUnavailable(err);
  return new BuntimeError('internal_error', 'internal error', { cause: err });
}

/** Unknown paths answer in the envelope too. */
export function notFound() {
  return (_req: Request, _res: Response, next: NextFunction) => next(new BuntimeError('not_found', 'no such endpoint'));
}
