import { z } from 'zod';
import { EGRESS_LOG_MAX } from '../../core/egress-log.ts';
import { sessionViewSchema } from '../../core/session-view.ts';
import { egressLogEntrySchema } from '../response-schemas.ts';
import { ON_SESSION, route } from '../route-table.ts';
import { SESSION_TOKEN_DEFAULT_TTL, SESSION_TOKEN_MAX_TTL } from '../session-tokens.ts';
import { createSessionBody, forkSessionBody } from '../validation.ts';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const egressQuery = z.object({
  limit: z.coerce.number().int().min(1).max(EGRESS_LOG_MAX).default(100).describe('newest entries to return'),
});
const tokenBody = z.strictObject({
  ttl: z.number().int().min(1).max(SESSION_TOKEN_MAX_TTL).default(SESSION_TOKEN_DEFAULT_TTL).describe('s; never past the session'),
});
const idParam = z.object({ id: z.string().describe('session id (ses_…)') });
const idempotencyHeader = {
  name: 'Idempotency-Key',
  description: '1–255 visible ASCII characters: the same key and body within 24 h answer the first response again',
};

/** Sessions: create, list, read, delete; their egress log; session tokens. */
export const sessionRoutes = [
  route({
    method: 'post', path: '/sessions/create', operationId: 'createSession', tag: 'Sessions', auth: ['apiKey'],
    summary: 'Create a session',
    description: 'A private sandbox with its own `/workspace`, kept between executions until `ttl` (s) runs out or it is deleted. '
      + '`resourceLimits` (memory MB, cpu cores, timeout s, disk MB) need a plan that allows them.',
    body: { json: createSessionBody, name: 'CreateSessionRequest', required: false },
    headers: [idempotencyHeader],
    ok: { status: 200, description: 'The new session.', json: sessionViewSchema, name: 'Session', replayed: true },
    errors: ['session_limit_exceeded', 'idempotency_conflict', 'service_unavailable', 'execution_timeout'],
    handler: ({ body, who, idempotent, deps }) => idempotent('sessions.create', () => deps.sessions.create(who(), body)),
  }),
  route({
    method: 'get', path: '/sessions', operationId: 'listSessions', tag: 'Sessions', auth: ['apiKey'],
    summary: 'List the account\'s live sessions',
    query: listQuery,
    ok: {
      status: 200, description: 'A page of sessions and how many there are.',
      json: z.object({ sessions: z.array(sessionViewSchema), total: z.number().int() }), name: 'SessionList',
    },
    errors: [],
    handler: ({ query, who, deps }) => deps.sessions.list(who(), query.limit, query.offset),
  }),
  route({
    method: 'get', path: '/sessions/{id}', operationId: 'getSession', tag: 'Sessions', auth: ['apiKey', 'sessionToken'],
    summary: 'Read a session',
    description: '`filesCount` and `activeProcesses` are counted on the spot (a large workspace answers its last count).',
    params: idParam,
    ok: { status: 200, description: 'The session.', json: sessionViewSchema, name: 'Session' },
    errors: ON_SESSION,
    handler: ({ params, who, deps }) => deps.sessions.get(who(), params.id),
  }),
  route({
    method: 'get', path: '/sessions/{id}/egress', operationId: 'getSessionEgress', tag: 'Sessions', auth: ['apiKey'],
    summary: 'The session\'s egress log',
    description: 'Its latest outbound requests and tunnels through the policy proxy, newest first.',
    params: idParam, query: egressQuery,
    ok: {
      status: 200, description: 'Egress connections, newest first.',
      json: z.object({ connections: z.array(egressLogEntrySchema) }), name: 'EgressLog',
    },
    errors: ['session_not_found'],
    handler: ({ params, query, who, deps }) => deps.sessions.egress(who(), params.id, query.limit),
  }),
  route({
    method: 'post', path: '/sessions/{id}/fork', operationId: 'forkSession', tag: 'Sessions', auth: ['apiKey'],
    summary: 'Fork a session',
    description: 'A new session of the account whose `/workspace` is a copy of this one\'s at this instant (same resource limits; '
      + 'processes are not copied). It counts against the session cap like a create.',
    params: idParam, body: { json: forkSessionBody, name: 'ForkSessionRequest', required: false },
    ok: { status: 200, description: 'The new session.', json: sessionViewSchema, name: 'Session' },
    errors: [...ON_SESSION, 'session_limit_exceeded', 'disk_full'],
    handler: ({ params, body, who, deps }) => deps.sessions.fork(who(), params.id, body),
  }),
  route({
    method: 'post', path: '/sessions/{id}/token', operationId: 'createSessionToken', tag: 'Sessions', auth: ['apiKey'],
    summary: 'Mint a session token',
    description: 'A short-lived JWT that may only read this session, stream its executions and open its preview: '
      + 'hand it to a browser instead of the API key.',
    params: idParam, body: { json: tokenBody, name: 'SessionTokenRequest', required: false }, noStore: true,
    ok: {
      status: 200, description: 'The token and when it expires.',
      json: z.object({ token: z.string(), expiresAt: z.string().describe('ISO-8601') }), name: 'SessionToken',
    },
    errors: ['session_not_found'],
    handler: ({ params, body, who, deps }) => deps.sessionTokens.mint(who(), params.id, body.ttl),
  }),
  route({
    method: 'delete', path: '/sessions/{id}', operationId: 'deleteSession', tag: 'Sessions', auth: ['apiKey'],
    summary: 'Delete a session',
    description: 'Its container and files are gone at once and its concurrent-session slot is free.',
    params: idParam,
    ok: {
      status: 200, description: 'Deleted.',
      json: z.object({ deleted: z.literal(true), sessionId: z.string() }), name: 'DeletedSession',
    },
    errors: ON_SESSION,
    handler: ({ params, who, deps }) => deps.sessions.delete(who(), params.id),
  }),
];
