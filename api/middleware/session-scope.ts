import type { NextFunction, Request, Response } from 'express';
import { BuntimeError } from '../../core/errors.ts';
import { ctx } from './request-context.ts';

/** Finds the session an execution belongs to (null when unknown). */
export type ExecutionSessionLookup = (executionId: string) => Promise<string | null>;

/**
 * What a session token may do: open its session's preview (any method), read its own session
 * and stream its executions —
 * `GET /sessions/{id}`, `GET /executions/{executionId}/events` of an execution of that session,
 * `GET /files/read|list|download?sessionId=` of it. Anything else is `forbidden`. Requests made
 * with an API key pass untouched.
 */
export function sessionScope(sessionOfExecution: ExecutionSessionLookup) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const session = ctx(res).principal!.session;
    if (session === undefined) return next();
    if (previewOf(req) === session) return next();
    try {
      const readsOwn = (req.method === 'GET' || req.method === 'HEAD') && (await targetOf(req, sessionOfExecution)) === session;
      if (readsOwn) return next();
      next(new BuntimeError('forbidden', 'a session token may only read its own session and stream its executions'));
    } catch (err) {
      next(err);
    }
  };
}

/** The session a read request is about, or undefined when it is not one a token may make. */
async function targetOf(req: Request, sessionOfExecution: ExecutionSessionLookup): Promise<string | undefined> {
  // Case-insensitive like express's routing, so no spelling reaches a route unchecked.
  const session = /^\/sessions\/([^/]+)\/?$/i.exec(req.path)?.[1];
  if (session !== undefined) return decode(session);
  const execution = /^\/executions\/([^/]+)\/events\/?$/i.exec(req.path)?.[1];
  if (execution !== undefined) {
    const id = decode(execution);
    return id === undefined ? undefined : ((await sessionOfExecution(id)) ?? undefined);
  }
  if (/^\/files\/(read|list|download)\/?$/i.test(req.path)) {
    const q = req.query.sessionId;
    return typeof q === 'string' ? q : undefined;
  }
  return undefined;
}

/** The session whose preview a request is for, if it is one. */
function previewOf(req: Request): string | undefined {
  const segment = /^\/preview\/([^/]+)(\/|$)/i.exec(req.path)?.[1];
  return segment === undefined ? undefined : decode(segment);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
