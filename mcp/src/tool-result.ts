import { BuntimeError } from '@buntime/sdk';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** A successful tool answer: one block of human-readable text. */
export function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

/** A tool failure the caller can act on, with a stable code (e.g. `invalid_request`). */
export class ToolInputError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}

/** What an agent may do about an error, by its code. */
const HINTS: Record<string, string> = {
  session_not_found: 'The sandbox session expired or was deleted; the next tool call starts a new, empty one.',
  rate_limit_exceeded: 'Too many requests for this API key; wait before retrying.',
  session_limit_exceeded: 'The account has as many sessions as its plan allows; delete some and retry.',
  service_unavailable: 'The service is temporarily unavailable; retry shortly.',
  timeout: 'No answer from the Buntime API in time.',
  network_error: 'The Buntime API could not be reached.',
};

/**
 * An MCP tool error (`isError: true`) carrying the API's code and message, e.g.
 * `not_found: file not found: a.txt`. Anything else becomes `internal_error` with its message;
 * nothing here throws, so a failing call never takes the server down.
 */
export function errorResult(err: unknown): CallToolResult {
  const { code, message, details, retryAfter } = describe(err);
  const lines = [`Error ${code}: ${message}`];
  if (details && Object.keys(details).length > 0) lines.push(`details: ${JSON.stringify(details)}`);
  if (retryAfter !== undefined) lines.push(`retry after: ${retryAfter} s`);
  const hint = HINTS[code];
  if (hint) lines.push(hint);
  return { isError: true, content: [{ type: 'text', text: lines.join('\n') }] };
}

function describe(err: unknown): { code: string; message: string; details?: Record<string, unknown>; retryAfter?: number } {
  if (err instanceof BuntimeError) {
    return { code: err.code, message: err.message, details: err.details, retryAfter: err.retryAfter };
  }
  if (err instanceof ToolInputError) return { code: err.code, message: err.message };
  return { code: 'internal_error', message: err instanceof Error ? err.message : String(err) };
}
