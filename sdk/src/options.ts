import type { BuntimeError } from './errors.ts';

/** Options of `new Buntime(options)`. Every field is optional. */
export interface BuntimeOptions {
  /** API key (`btk_…`). Default: `process.env.BUNTIME_API_KEY`; construction fails without one. */
  apiKey?: string;
  /** Base URL of the API. Default: `process.env.BUNTIME_BASE_URL`, else `http://127.0.0.1:3000`. */
  baseUrl?: string;
  /**
   * Client-side timeout of one request attempt, ms. Default 60000. For `execute` the
   * execution's own `timeout` is added on top; for a stream it bounds the whole stream.
   */
  timeout?: number;
  /** Retries after the first attempt on 429, 503 and network errors. Default 2. */
  maxRetries?: number;
  /** Base of the exponential backoff, ms (first retry waits up to this long). Default 500. */
  retryDelay?: number;
  /** Called before each retry with the error that caused it and the retry number (from 1). */
  onRetry?: (error: BuntimeError, attempt: number) => void;
}

/** {@link BuntimeOptions} with every default applied, as the transport uses them. */
export interface ResolvedOptions {
  apiKey: string;
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  onRetry: ((error: BuntimeError, attempt: number) => void) | undefined;
}

const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';

/** Applies defaults and environment variables; throws a readable `Error` on bad options. */
export function resolveOptions(options: BuntimeOptions = {}): ResolvedOptions {
  const env = globalThis.process?.env ?? {};
  const apiKey = options.apiKey ?? env.BUNTIME_API_KEY;
  if (!apiKey) {
    throw new Error(
      'Buntime: no API key. Pass `new Buntime({ apiKey })` or set the BUNTIME_API_KEY environment variable.',
    );
  }
  return {
    apiKey,
    baseUrl: checkUrl(options.baseUrl ?? (env.BUNTIME_BASE_URL || DEFAULT_BASE_URL)),
    timeoutMs: checkNumber('timeout', options.timeout ?? 60_000, 1),
    maxRetries: checkInteger('maxRetries', options.maxRetries ?? 2),
    retryDelayMs: checkNumber('retryDelay', options.retryDelay ?? 500, 0),
    onRetry: options.onRetry,
  };
}

function checkUrl(raw: string): string {
  try {
    return new URL(raw).href.replace(/\/+$/, '');
  } catch {
    throw new Error(`Buntime: baseUrl ${JSON.stringify(raw)} is not a valid URL`);
  }
}

function checkNumber(name: string, value: number, min: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new Error(`Buntime: ${name} must be a number ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function checkInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Buntime: ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
