/**
 * The request side of PROTOCOL.md: the error type every handler throws and the field readers
 * that turn one untrusted JSON object into typed values, refusing anything ill-typed with
 * `invalid_request` and the offending field in `details`.
 */

export type ErrorCode = 'invalid_request' | 'not_found' | 'payload_too_large' | 'disk_full' | 'internal_error';

/** A failure to report to the caller as `{"type":"error","code",…}`; never crashes the agent. */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type Fields = Record<string, unknown>;

function bad(field: string, expected: string): AgentError {
  return new AgentError('invalid_request', `${field} must be ${expected}`, { field });
}

/** `null` and a missing field both mean "not given". */
function given(req: Fields, field: string): unknown {
  const v = req[field];
  return v === null ? undefined : v;
}

export function str(req: Fields, field: string): string;
export function str(req: Fields, field: string, fallback: string): string;
export function str(req: Fields, field: string, fallback?: string): string {
  const v = given(req, field);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') throw bad(field, 'a string');
  return v;
}

export function optStr(req: Fields, field: string): string | undefined {
  const v = given(req, field);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(field, 'a string');
  return v;
}

/** A non-negative safe integer (`min` 1 for durations and sizes that cannot be zero). */
export function int(req: Fields, field: string, fallback: number, min = 0): number {
  const v = given(req, field);
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(field, `an integer ≥ ${min}`);
  return v;
}

export function optInt(req: Fields, field: string): number | undefined {
  const v = given(req, field);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw bad(field, 'a positive integer');
  return v;
}

export function bool(req: Fields, field: string): boolean {
  const v = given(req, field);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw bad(field, 'a boolean');
  return v;
}

export function oneOf<T extends string>(req: Fields, field: string, values: readonly T[]): T {
  const v = given(req, field);
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw bad(field, values.join(' or '));
  return v as T;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment variables for one execution: names as POSIX shells accept them, string values. */
export function env(req: Fields, field: string): Record<string, string> {
  const v = given(req, field);
  if (v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'an object');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v as Fields)) {
    if (!ENV_NAME.test(name)) throw bad(`${field}.${name}`, 'a valid variable name');
    if (typeof value !== 'string' || value.includes('\0')) throw bad(`${field}.${name}`, 'a string without NUL');
    out[name] = value;
  }
  return out;
}

export interface FileSpec {
  path: string;
  data: Buffer;
}

/** The `files` of a run request, decoded; `encoding` defaults to utf8. */
export function files(req: Fields, field: string): FileSpec[] {
  const v = given(req, field);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(field, 'an array');
  return v.map((f: unknown, i) => {
    if (typeof f !== 'object' || f === null) throw bad(`${field}[${i}]`, 'an object');
    const spec = f as Fields;
    const path = str(spec, 'path');
    const content = str(spec, 'content');
    const encoding = given(spec, 'encoding') === undefined ? 'utf8' : oneOf(spec, 'encoding', ['utf8', 'base64']);
    return { path, data: Buffer.from(content, encoding) };
  });
}

/** The reply for a failed request; an unexpected exception becomes `internal_error`. */
export function errorReply(id: string, err: unknown): Fields {
  if (err instanceof AgentError) {
    return { id, type: 'error', code: err.code, message: err.message, details: err.details };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { id, type: 'error', code: 'internal_error', message, details: {} };
}
