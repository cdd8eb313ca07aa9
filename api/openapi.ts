import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { inlineSchema, parametersOf, SchemaSet, type JsonSchema, type ParameterDoc } from './openapi-schemas.ts';
import type { AnswerDoc, AuthScheme, RouteDoc } from './route-table.ts';

/**
 * The OpenAPI 3.1 document of the API, built from the route table (`routes/index.ts`): one
 * operation per route, its inputs and answer from the zod schemas it is served with, its error
 * answers from its error codes, the shared error envelope, the headers and the credentials.
 */

/** What each code means, for the document (a code missing here does not compile). */
const ERROR_MEANING: Record<ErrorCode, string> = {
  unauthorized: 'missing, malformed, unknown, expired or revoked credentials (with `WWW-Authenticate: Bearer`)',
  forbidden: 'valid credentials that may not do this: the plan does not allow it, or a session token outside its session',
  invalid_request: 'bad JSON, an unknown or ill-typed field, a value out of range; `details.field` names it',
  session_not_found: 'unknown, deleted or expired session (also another account\'s)',
  session_lost: 'the session\'s files are gone from its node (`state: "lost"`); only DELETE is left',
  not_found: 'unknown path, file, process, execution, account, key or webhook',
  payload_too_large: 'a body or a file over its limit',
  idempotency_conflict: 'an `Idempotency-Key` reused with another body, or its first request still running',
  rate_limit_exceeded: 'over the key\'s requests per minute, or too many failed authentications from one address',
  session_limit_exceeded: 'the plan\'s concurrent-session cap is reached',
  execution_timeout: 'the request outlived its server deadline (not user code: that is `timedOut` in a result)',
  memory_limit_exceeded: 'the session container itself ran out of memory or cannot start',
  disk_full: 'a write would pass the session\'s disk limit',
  service_unavailable: 'Redis or the session\'s node unreachable, or no node has room',
  node_lost: 'the node hosting the session is gone',
  snapshot_limit_exceeded: 'the plan\'s number of kept snapshots is reached',
  bad_gateway: 'a preview\'s server hung up without an answer',
  gateway_timeout: 'a preview\'s server did not start answering in time',
  internal_error: 'a bug; logged with the request id',
};

const SECURITY_SCHEMES: Record<AuthScheme, Record<string, string>> = {
  apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'btk_ + 40 base62 characters', description: 'An API key of an account.' },
  sessionToken: {
    type: 'http', scheme: 'bearer', bearerFormat: 'JWT',
    description: 'A session token (`POST /sessions/{id}/token`): reads its one session and streams its executions.',
  },
  adminJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An admin JWT (HS256, `ADMIN_JWT_SECRET`; `buntime-admin token`).' },
  metricsToken: { type: 'http', scheme: 'bearer', description: '`METRICS_TOKEN`, when the operator set one.' },
};

const HEADERS: Record<string, { description: string; schema: JsonSchema }> = {
  'X-Request-Id': { description: 'Names the request in the service\'s logs.', schema: { type: 'string' } },
  'X-RateLimit-Limit': { description: 'Requests per minute of the key\'s plan.', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in this minute.', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'When the window resets, unix seconds.', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: '`Bearer`.', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: '`true` when this is the replay of an earlier answer.', schema: { type: 'string' } },
  'Cache-Control': { description: '`no-store`: the answer carries a secret.', schema: { type: 'string' } },
};

const TAGS = [
  { name: 'Sessions', description: 'Sandboxes with a persistent `/workspace`.' },
  { name: 'Execute', description: 'Running code and commands; streamed output.' },
  { name: 'Files', description: 'A session\'s workspace. Paths are relative to `/workspace` and never leave it.' },
  { name: 'Processes', description: 'What runs in a session.' },
  { name: 'Account', description: 'The caller\'s plan and usage.' },
  { name: 'Webhooks', description: 'Signed lifecycle events.' },
  { name: 'Admin', description: 'Accounts, keys and webhooks of every account, behind an admin JWT.' },
  { name: 'Service', description: 'Health, metrics and this document.' },
];

const DESCRIPTION = `Runs untrusted JavaScript/TypeScript and shell commands in hardened Bun sandboxes.

**Credentials** — \`Authorization: Bearer …\`: an API key (\`btk_…\`), a session token (a JWT that may only read its one
session), or an admin JWT on \`/admin/*\`.

**Errors** — every error answers \`{"error": {"code", "message", "details"}}\` (ErrorEnvelope); the codes are listed in
ErrorCode. Every answer carries \`X-Request-Id\`; every answer to an API key or session token carries
\`X-RateLimit-Limit\`, \`X-RateLimit-Remaining\` and \`X-RateLimit-Reset\`; 429 and 503 carry \`Retry-After\`.

**Not in this document** — previews (\`/preview/{sessionId}/…\` and the preview origins: whatever the session's own
server answers), the dashboard's page and assets (\`/dashboard\`), and this reference page (\`/docs\`).`;

/** Builds the document of `routes`; `version` is the service's. */
export function openApiDocument(routes: readonly RouteDoc[], version: string): Record<string, unknown> {
  const shared: Shared = { schemas: new SchemaSet(), errors: {} };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const item = (paths[r.path] ??= {});
    if (item[r.method]) throw new Error(`${r.method.toUpperCase()} ${r.path} is declared twice`);
    item[r.method] = operation(r, shared);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Buntime', version, description: DESCRIPTION },
    tags: TAGS,
    paths,
    components: {
      schemas: { ...errorSchemas(), ...shared.schemas.toJson() },
      responses: shared.errors,
      securitySchemes: SECURITY_SCHEMES,
      headers: HEADERS,
    },
  };
}

/** What operations share: named schemas, and error answers (`components.responses`). */
interface Shared {
  schemas: SchemaSet;
  errors: Record<string, unknown>;
}

function operation(r: RouteDoc, shared: Shared): Record<string, unknown> {
  const parameters: ParameterDoc[] = [
    ...(r.params ? parametersOf(r.params, 'path') : []),
    ...(r.query ? parametersOf(r.query, 'query') : []),
  ];
  const headers = (r.headers ?? []).map((h) => ({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string' } }));
  return {
    operationId: r.operationId,
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: r.auth.map((scheme) => ({ [scheme]: [] })),
    ...(parameters.length + headers.length ? { parameters: [...parameters, ...headers] } : {}),
    ...requestBody(r, shared.schemas),
    responses: responses(r, shared),
  };
}

function requestBody(r: RouteDoc, schemas: SchemaSet): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (r.body) content['application/json'] = { schema: schemas.ref(r.body.name, r.body.json, 'input') };
  if (r.rawBody) content[r.rawBody.media] = { schema: { type: 'string', contentMediaType: r.rawBody.media } };
  if (!r.body && !r.rawBody) return {};
  const required = r.rawBody !== undefined || r.body?.required === true;
  return { requestBody: { required, ...(r.rawBody ? { description: r.rawBody.description } : {}), content } };
}

function responses(r: RouteDoc, shared: Shared): Record<string, unknown> {
  const { schemas } = shared;
  const out: Record<string, unknown> = {};
  const noStore = r.noStore ? ['Cache-Control'] : [];
  out[String(r.ok.status)] = answer(r.ok, schemas, [...commonHeaders(r, r.ok.status), ...noStore]);
  for (const [status, doc] of Object.entries(r.other ?? {})) out[status] = answer(doc, schemas, commonHeaders(r, Number(status)));
  for (const [status, codes] of byStatus(r.errors)) {
    if (out[status]) throw new Error(`${r.method} ${r.path}: status ${status} is both an answer and an error`);
    out[status] = errorRef(shared, codes, commonHeaders(r, status));
  }
  return out;
}

/**
 * An error answer, shared in `components.responses` under the name of its codes (`keyed.` when
 * it carries the rate-limit headers): routes answer the same errors alike.
 */
function errorRef(shared: Shared, codes: ErrorCode[], headerNames: string[]): Record<string, unknown> {
  const name = `${headerNames.includes('X-RateLimit-Limit') ? 'keyed.' : ''}${codes.join('.')}`;
  shared.errors[name] ??= errorAnswer(codes, headerNames);
  return { $ref: `#/components/responses/${name}` };
}

function answer(doc: AnswerDoc, schemas: SchemaSet, headerNames: string[]): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (doc.json) {
    const schema = doc.name ? schemas.ref(doc.name, doc.json, 'output') : inlineSchema(doc.json, 'output');
    content['application/json'] = { schema };
  }
  if (doc.raw) content[doc.raw] = { schema: { type: 'string', contentMediaType: doc.raw } };
  const names = [...headerNames, ...(doc.retryAfter ? ['Retry-After'] : []), ...(doc.replayed ? ['Idempotent-Replayed'] : [])];
  return {
    description: doc.description,
    headers: headerRefs(names),
    ...(Object.keys(content).length ? { content } : {}),
  };
}

/** An error answer of one status: the envelope, `code` narrowed to the route's codes of that status. */
function errorAnswer(codes: ErrorCode[], headerNames: string[]): Record<string, unknown> {
  const status = ERROR_CATALOGUE[codes[0]!].status;
  const extra = [...(status === 401 ? ['WWW-Authenticate'] : []), ...(status === 429 || status === 503 ? ['Retry-After'] : [])];
  const narrowed = { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } };
  return {
    description: codes.map((c) => `\`${c}\`: ${ERROR_MEANING[c]}`).join('; '),
    headers: headerRefs([...headerNames, ...extra]),
    content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/ErrorEnvelope' }, narrowed] } } },
  };
}

/**
 * Headers of every answer of a route: `X-Request-Id`; behind an API key or session token, the
 * rate-limit headers on every answer given after the key was counted (all but a 401).
 */
function commonHeaders(r: RouteDoc, status: number): string[] {
  const limited = r.auth.includes('apiKey') && status !== 401;
  return ['X-Request-Id', ...(limited ? ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] : [])];
}

function headerRefs(names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));
}

/** The route's error codes grouped by HTTP status, in the catalogue's order. */
function byStatus(codes: readonly ErrorCode[]): Map<number, ErrorCode[]> {
  const out = new Map<number, ErrorCode[]>();
  for (const code of ERROR_CODES.filter((c) => codes.includes(c))) {
    const status = ERROR_CATALOGUE[code].status;
    out.set(status, [...(out.get(status) ?? []), code]);
  }
  return new Map([...out].sort(([a], [b]) => a - b));
}

/** The error envelope and the catalogue of codes, shared by every error answer. */
function errorSchemas(): Record<string, JsonSchema> {
  const rows = ERROR_CODES.map((c) => `| \`${c}\` | ${ERROR_CATALOGUE[c].status} | ${ERROR_CATALOGUE[c].retryable ? 'yes' : 'no'} | ${ERROR_MEANING[c]} |`);
  return {
    ErrorCode: {
      type: 'string', enum: [...ERROR_CODES],
      description: ['Stable error codes.', '', '| code | status | retryable | when |', '|---|---|---|---|', ...rows].join('\n'),
    },
    Error: {
      type: 'object',
      properties: {
        code: { $ref: '#/components/schemas/ErrorCode' },
        message: { type: 'string', description: 'For people; may change.' },
        details: { type: 'object', additionalProperties: true, description: 'e.g. `field`: the field at fault.' },
      },
      required: ['code', 'message', 'details'],
    },
    ErrorEnvelope: {
      type: 'object', properties: { error: { $ref: '#/components/schemas/Error' } }, required: ['error'],
    },
  };
}
