import type { NextFunction, Request, Response } from 'express';
import type { UsageStore } from '../../core/usage.ts';
import { ctx } from './request-context.ts';

/**
 * Counts every authenticated request of a key (rate-limited ones included). One pipelined
 * HINCRBY sent before the request goes on, never awaited: metering adds no latency and a
 * Redis hiccup never fails a request because of it.
 */
export function usageMeter(usage: UsageStore) {
  return (_req: Request, res: Response, next: NextFunction) => {
    usage.request(ctx(res).principal!.keyId);
    next();
  };
}
