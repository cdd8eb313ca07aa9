import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Principal } from '../../core/accounts.ts';
import type { Logger } from '../../core/logger.ts';

/** What the middleware chain learns about a request, kept on `res.locals`. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  principal?: Principal;
  /** The session token a preview request brought as `?token=` (it goes into the preview cookie). */
  previewToken?: string;
}

export function ctx(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}

/** Gives every request an id (echoed as `X-Request-Id`) and a child logger carrying it. */
export function requestContext(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const requestId = `req_${randomUUID().replaceAll('-', '')}`;
    res.setHeader('X-Request-Id', requestId);
    const context: RequestContext = { requestId, log: log.child({ requestId }) };
    res.locals.ctx = context;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      context.log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10,
        account: context.principal?.account, ip: req.ip }, 'request');
    });
    next();
  };
}
