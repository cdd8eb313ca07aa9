/**
 * The error catalogue: every stable error code the API can answer with, its HTTP status and
 * whether a client may retry. api turns a {@link BuntimeError} into the error envelope
 * `{"error": {code, message, details}}`; the runner throws them for infrastructure failures and
 * they travel back to the API by code.
 */
export const ERROR_CATALOGUE = {
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  invalid_request: { status: 400, retryable: false },
  session_not_found: { status: 404, retryable: false },
  session_lost: { status: 410, retryable: false },
  not_found: { status: 404, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  idempotency_conflict: { status: 409, retryable: false },
  rate_limit_exceeded: { status: 429, retryable: true },
  session_limit_exceeded: { status: 429, retryable: true },
  execution_timeout: { status: 408, retryable: true },
  memory_limit_exceeded: { status: 507, retryable: false },
  disk_full: { status: 507, retryable: false },
  service_unavailable: { status: 503, retryable: true },
  node_lost: { status: 503, retryable: true },
  snapshot_limit_exceeded: { status: 429, retryable: false },
  bad_gateway: { status: 502, retryable: true },
  gateway_timeout: { status: 504, retryable: true },
  internal_error: { status: 500, retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export type ErrorDetails = Record<string, unknown>;

/** Wire form of an error, as found under `error` in every error body. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

/** Base error of the service: a stable code, its HTTP status and whether retrying may help. */
export class BuntimeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: ErrorDetails;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { details?: ErrorDetails; cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'BuntimeError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.details = opts.details ?? {};
    this.retryAfterSec = opts.retryAfterSec;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error that crossed a queue or a stream as its wire form. */
  static fromBody(body: { code?: unknown; message?: unknown; details?: unknown }, retryAfterSec?: number): BuntimeError {
    const code = isErrorCode(body.code) ? body.code : 'internal_error';
    const message = typeof body.message === 'string' ? body.message : 'internal error';
    const details = isRecord(body.details) ? body.details : {};
    return new BuntimeError(code, message, { details, retryAfterSec });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
