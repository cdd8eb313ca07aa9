import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import type { Principal } from '../core/accounts.ts';
import { BuntimeError, type ErrorCode } from '../core/errors.ts';
import { sendIdempotent } from './idempotency.ts';
import { ctx } from './middleware/request-context.ts';
import type { RouteDeps } from './routes/deps.ts';
import { parse } from './validation.ts';

/**
 * The route table's machinery. Express 5 cannot list its routes, so each public route is
 * declared once, with everything a reader of the API needs (method, path, credentials, inputs,
 * answer, error codes) next to its handler; {@link mountRoutes} mounts the table and
 * `openapi.ts` documents the very same entries. Inputs are parsed with their zod schemas before
 * the handler runs, and a handler's JSON answer must have the type of its documented schema.
 */

export type Method = 'get' | 'post' | 'put' | 'delete';

/**
 * Credentials a route accepts (any one of them): an API key, a session token (a JWT scoped to
 * one session, see middleware/session-scope.ts), an admin JWT, or `METRICS_TOKEN`. An empty
 * list: public.
 */
export type AuthScheme = 'apiKey' | 'sessionToken' | 'adminJwt' | 'metricsToken';

/** Answers that are not JSON: an SSE stream, a file's bytes, a tar of a tree, Prometheus text. */
export type RawMedia = 'text/event-stream' | 'application/octet-stream' | 'application/x-tar' | 'text/plain';

/** A request header a route reads (documentation only: the handler reads it). */
export interface HeaderDoc {
  name: string;
  description: string;
}

/** One documented answer. */
export interface AnswerDoc<J extends z.ZodType | undefined = z.ZodType | undefined> {
  description: string;
  /** The JSON body; `name` is its name among the document's schemas. */
  json?: J;
  name?: string;
  /** A non-JSON body (also besides `json`, e.g. `POST /execute` with `stream: true`). */
  raw?: RawMedia;
  /** `Retry-After` is sent (seconds). */
  retryAfter?: boolean;
  /** `Idempotent-Replayed: true` is sent on a replay. */
  replayed?: boolean;
}

/** Everything a route declares about itself, schemas erased to `z.ZodType`. */
export interface RouteDoc {
  method: Method;
  /** OpenAPI form: `/sessions/{id}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: readonly AuthScheme[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** A JSON body; `required: false` reads a missing body as `{}`. */
  body?: { json: z.ZodType; name: string; required: boolean };
  /**
   * A raw body, streamed to the handler (a tar upload, a file's bytes). With `body` too, either
   * form is taken: a request of this media type skips the JSON body (the handler's `body` is then
   * undefined and it reads `req`).
   */
  rawBody?: { media: 'application/x-tar' | 'application/octet-stream'; description: string };
  headers?: readonly HeaderDoc[];
  ok: AnswerDoc & { status: 200 | 201 };
  /** Other answers than the success and the errors (a 204, a health 503). */
  other?: Readonly<Record<number, AnswerDoc>>;
  /** Sent with `Cache-Control: no-store` (it carries a secret). */
  noStore?: boolean;
  /** Every error code the route can answer, the implicit ones ({@link implicitErrors}) included. */
  errors: readonly ErrorCode[];
}

/** A declared route: its documentation and what serves it. */
export interface Route extends RouteDoc {
  serve(req: Request, res: Response, deps: RouteDeps): Promise<void>;
}

/** A handler's answer when it wrote the response itself (a stream, an idempotent replay). */
export const RESPONDED: unique symbol = Symbol('responded');
export type Responded = typeof RESPONDED;

type Obj = z.ZodObject | undefined;
type Any = z.ZodType | undefined;
type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;
type Out<J> = J extends z.ZodType ? z.output<J> : never;

/** What a handler gets: the parsed inputs, the services, and the raw exchange when it must stream. */
export interface RouteIO<P extends Obj, Q extends Obj, B extends Any, J extends Any> {
  req: Request;
  res: Response;
  deps: RouteDeps;
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  /** The caller authenticated by API key or session token. */
  who(): Principal;
  /** Answers through `Idempotency-Key` replay (api/idempotency.ts) under `scope`. */
  idempotent(scope: string, fn: () => Promise<Out<J>>): Promise<Responded>;
}

/** A route as written in the table: the typed form of {@link RouteDoc} plus its handler. */
export interface RouteSpec<P extends Obj, Q extends Obj, B extends Any, J extends Any>
  extends Omit<RouteDoc, 'params' | 'query' | 'body' | 'ok' | 'errors'> {
  params?: P;
  query?: Q;
  body?: { json: B; name: string; required: boolean };
  ok: AnswerDoc<J> & { status: 200 | 201 };
  /** The route's own error codes; those every route of its kind can answer are added. */
  errors: readonly ErrorCode[];
  handler(io: RouteIO<P, Q, B, J>): Promise<Out<J> | Responded>;
}

/** Declares a route of the table. */
export function route<P extends Obj = undefined, Q extends Obj = undefined, B extends Any = undefined, J extends Any = undefined>(
  spec: RouteSpec<P, Q, B, J>,
): Route {
  const { handler, ...doc } = spec;
  const errors = [...new Set([...spec.errors, ...implicitErrors(doc as RouteDoc)])];
  return {
    ...(doc as Omit<RouteDoc, 'errors'>),
    errors,
    serve: async (req, res, deps) => {
      const io = inputsOf(spec, req, res, deps);
      if (spec.noStore) res.setHeader('Cache-Control', 'no-store');
      const out = await handler(io);
      if (out !== RESPONDED) res.status(spec.ok.status).json(out);
    },
  };
}

function inputsOf<P extends Obj, Q extends Obj, B extends Any, J extends Any>(
  spec: RouteSpec<P, Q, B, J>, req: Request, res: Response, deps: RouteDeps,
): RouteIO<P, Q, B, J> {
  const body = spec.body as { json: z.ZodType; required: boolean } | undefined;
  return {
    req, res, deps,
    params: (spec.params ? parse(spec.params, req.params) : undefined) as Parsed<P>,
    query: (spec.query ? parse(spec.query, req.query) : undefined) as Parsed<Q>,
    body: (body && !(spec.rawBody && req.is(spec.rawBody.media))
      ? parse(body.json, body.required ? req.body : (req.body ?? {}))
      : undefined) as Parsed<B>,
    who: () => principalOf(res),
    idempotent: async (scope, fn) => {
      await sendIdempotent(req, res, deps.idempotency, scope, fn);
      return RESPONDED;
    },
  };
}

function principalOf(res: Response): Principal {
  const principal = ctx(res).principal;
  if (!principal) throw new BuntimeError('internal_error', 'a route that needs a caller was reached without one');
  return principal;
}

/**
 * Codes every route of a kind can answer besides its own: `internal_error` anywhere; behind an
 * API key or session token, authentication (401, and 429 for a client address with too many
 * failures), the key's rate limit (429), Redis away (503) and a session token outside its scope
 * (403); behind an admin JWT, authentication and Redis; any parsed input, `invalid_request`; a
 * JSON body, its size limit.
 */
function implicitErrors(r: Pick<RouteDoc, 'auth' | 'params' | 'query' | 'body'>): ErrorCode[] {
  const out: ErrorCode[] = ['internal_error'];
  if (r.auth.includes('apiKey')) out.push('unauthorized', 'forbidden', 'rate_limit_exceeded', 'service_unavailable');
  if (r.auth.includes('adminJwt')) out.push('unauthorized', 'rate_limit_exceeded', 'service_unavailable');
  if (r.auth.includes('metricsToken')) out.push('unauthorized');
  if (r.params || r.query || r.body) out.push('invalid_request');
  if (r.body) out.push('payload_too_large');
  return out;
}

/** Mounts `routes` on `router`; `prefix` is the path the router itself is mounted at. */
export function mountRoutes(router: Router, routes: readonly Route[], deps: RouteDeps, prefix = ''): void {
  for (const r of routes) {
    if (!r.path.startsWith(`${prefix}/`)) throw new Error(`route ${r.path} is not under ${prefix}/`);
    router[r.method](expressPath(r.path.slice(prefix.length)), (req, res) => r.serve(req, res, deps));
  }
}

/** `/sessions/{id}` → `/sessions/:id`. */
function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/**
 * Codes of any operation on a session through its node: not the caller's (or gone), its files
 * gone from its node (410), its node lost or unreachable (503), the job past its deadline (408), its container out of memory (507).
 */
export const ON_SESSION: readonly ErrorCode[] = [
  'session_not_found', 'session_lost', 'service_unavailable', 'execution_timeout', 'memory_limit_exceeded',
];
