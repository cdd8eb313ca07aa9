import { BuntimeError, type Buntime } from '@buntime/sdk';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SessionLease } from './session-lease.ts';
import { errorResult, textResult } from './tool-result.ts';

/** What every tool works with: the API client and the connection's session lease. */
export interface ToolDeps {
  client: Buntime;
  lease: SessionLease;
}

/**
 * Runs one tool body against the connection's session and turns its text into a result, or any
 * failure into an MCP tool error. A `session_not_found` makes the lease forget the session, so
 * the next call starts a fresh one instead of failing forever.
 */
export async function withSession(d: ToolDeps, body: (sessionId: string) => Promise<string>): Promise<CallToolResult> {
  let sessionId: string | undefined;
  try {
    sessionId = (await d.lease.get()).sessionId;
    return textResult(await body(sessionId));
  } catch (err) {
    if (sessionId && err instanceof BuntimeError && err.code === 'session_not_found') d.lease.forget(sessionId);
    return errorResult(err);
  }
}

/**
 * Validates a call's arguments before anything else happens (no session is created for a call
 * that cannot run), then runs it; a validation failure is a tool error like any other.
 */
export async function checked<T>(parse: () => T, run: (value: T) => Promise<CallToolResult>): Promise<CallToolResult> {
  let value: T;
  try {
    value = parse();
  } catch (err) {
    return errorResult(err);
  }
  return run(value);
}
