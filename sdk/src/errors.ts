/**
 * The one error type of the SDK. Every failure the client reports — an error envelope from the
 * API, a dropped connection, a client-side timeout, an `event: error` on a stream — arrives as a
 * {@link BuntimeError} with a stable `code`.
 */

/** Codes the API answers with (DESIGN 2.1). */
export type ApiErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_request'
  | 'session_not_found'
  | 'session_lost'
  | 'not_found'
  | 'payload_too_large'
  | 'idempotency_conflict'
  | 'rate_limit_exceeded'
  | 'session_limit_exceeded'
  | 'execution_timeout'
  | 'memory_limit_exceeded'
  | 'disk_full'
  | 'service_unavailable'
  | 'snapshot_limit_exceeded'
  | 'internal_error';

/**
 * Codes the client produces itself, always with `status` 0:
 * `network_error` (connection refused, reset or cut), `timeout` (the client's own deadline ran
 * out) and `invalid_response` (the server answered something that is not the documented shape).
 */
export type ClientErrorCode = 'network_error' | 'timeout' | 'invalid_response';

/** Any error code; unknown strings are kept as sent so a newer server does not break the client. */
export type BuntimeErrorCode = ApiErrorCode | ClientErrorCode | (string & {});

/** Fields of a {@link BuntimeError}. */
export interface BuntimeErrorInit {
  /** HTTP status, or 0 when no response was received. */
  status: number;
  code: BuntimeErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Seconds to wait before retrying, from `Retry-After`. */
  retryAfter?: number;
  /** The server's `X-Request-Id`, to quote in bug reports. */
  requestId?: string;
  cause?: unknown;
}

/** An API error envelope, a network failure or a client timeout. */
export class BuntimeError extends Error {
  /** HTTP status of the response; 0 for `network_error`, `timeout` and `invalid_response`. */
  readonly status: number;
  /** Stable machine-readable code, e.g. `session_not_found` (see {@link ApiErrorCode}). */
  readonly code: BuntimeErrorCode;
  /** Structured context from the server, e.g. the offending field of an `invalid_request`. */
  readonly details: Record<string, unknown>;
  /** Seconds the server asked to wait (`Retry-After`), or `undefined` when it did not say. */
  readonly retryAfter: number | undefined;
  /** `X-Request-Id` of the failed response, or `undefined` when there was no response. */
  readonly requestId: string | undefined;

  constructor(init: BuntimeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'BuntimeError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }
}

const STATUS_BY_CODE: Readonly<Record<ApiErrorCode, number>> = {
  unauthorized: 401,
  forbidden: 403,
  invalid_request: 400,
  session_not_found: 404,
  session_lost: 410,
  not_found: 404,
  payload_too_large: 413,
  idempotency_conflict: 409,
  rate_limit_exceeded: 429,
  session_limit_exceeded: 429,
  execution_timeout: 408,
  memory_limit_exceeded: 507,
  disk_full: 507,
  service_unavailable: 503,
  snapshot_limit_exceeded: 429,
  internal_error: 500,
};

/** Turns a non-2xx response into an error, reading the `{"error": {…}}` envelope when present. */
export async function errorFromResponse(res: Response): Promise<BuntimeError> {
  const text = await res.text();
  const envelope = parseEnvelope(text);
  return new BuntimeError({
    status: res.status,
    code: envelope?.code ?? codeForStatus(res.status),
    message: envelope?.message ?? fallbackMessage(res, text),
    details: envelope?.details,
    retryAfter: parseRetryAfter(res.headers.get('retry-after')),
    requestId: res.headers.get('x-request-id') ?? undefined,
  });
}

/**
 * Builds the error carried by an SSE `event: error`, whose data is the 2.1 error object (with or
 * without the `error` wrapper). The status is the one the code has in the catalogue.
 */
export function errorFromEvent(data: unknown, requestId?: string): BuntimeError {
  const body = isRecord(data) && isRecord(data.error) ? data.error : data;
  const fields = readErrorFields(body);
  const code = fields?.code ?? 'internal_error';
  return new BuntimeError({
    status: STATUS_BY_CODE[code as ApiErrorCode] ?? 0,
    code,
    message: fields?.message ?? 'the execution stream reported an error',
    details: fields?.details,
    requestId,
  });
}

/** A request that never got a response: refused, reset or cut mid-body. */
export function networkError(cause: unknown, what = 'request'): BuntimeError {
  return new BuntimeError({ status: 0, code: 'network_error', message: `${what} failed: ${describe(cause)}`, cause });
}

/** The client's own deadline of `ms` milliseconds ran out. */
export function timeoutError(ms: number): BuntimeError {
  return new BuntimeError({ status: 0, code: 'timeout', message: `request timed out after ${ms} ms` });
}

/** The server answered with a body the client cannot read. */
export function invalidResponse(message: string, cause?: unknown): BuntimeError {
  return new BuntimeError({ status: 0, code: 'invalid_response', message, cause });
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; `undefined` when absent or invalid. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

interface ErrorFields {
  code: string;
  message: string | undefined;
  details: Record<string, unknown> | undefined;
}

function parseEnvelope(text: string): ErrorFields | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return isRecord(body) ? readErrorFields(body.error) : undefined;
  } catch {
    return undefined;
  }
}

function readErrorFields(value: unknown): ErrorFields | undefined {
  if (!isRecord(value) || typeof value.code !== 'string') return undefined;
  return {
    code: value.code,
    message: typeof value.message === 'string' ? value.message : undefined,
    details: isRecord(value.details) ? value.details : undefined,
  };
}

/** For bodies without an envelope (a proxy's HTML page, an empty 502). */
const CODE_BY_STATUS: Readonly<Record<number, ApiErrorCode>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'execution_timeout',
  409: 'idempotency_conflict',
  413: 'payload_too_large',
  429: 'rate_limit_exceeded',
  502: 'service_unavailable',
  503: 'service_unavailable',
  504: 'service_unavailable',
};

function codeForStatus(status: number): ApiErrorCode {
  return CODE_BY_STATUS[status] ?? 'internal_error';
}

function fallbackMessage(res: Response, text: string): string {
  const snippet = text.trim().slice(0, 200);
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
}

/** undici hides the socket error one level down (`TypeError: fetch failed`, cause `ECONNREFUSED`). */
function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? cause.cause.message : undefined;
  return inner && inner !== cause.message ? `${cause.message} (${inner})` : cause.message;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
