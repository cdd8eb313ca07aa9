/**
 * The agent's side of core/agent-protocol.ts: the error every handler throws and the reply it
 * becomes. Requests are validated by the runner before they are sent (the attach stream is
 * reachable by the runner alone), so handlers take them as typed; anything a handler throws —
 * including the TypeError a malformed field would cause — becomes an error reply, never a crash.
 */
import type { AgentErrorCode, AgentReplyLine, FileInput } from '../../../core/agent-protocol.ts';

/** A failure to report to the caller as `{"type":"error","code",…}`; never crashes the agent. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The reply for a failed request; an unexpected exception becomes `internal_error`. */
export function errorReply(id: string, err: unknown): AgentReplyLine {
  if (err instanceof AgentError) {
    return { id, type: 'error', code: err.code, message: err.message, details: err.details };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { id, type: 'error', code: 'internal_error', message, details: {} };
}

export interface FileSpec {
  path: string;
  data: Buffer;
}

/** The `files` of a run request, decoded. */
export function decodeFiles(files: FileInput[]): FileSpec[] {
  return files.map((f) => ({ path: f.path, data: Buffer.from(f.content, f.encoding ?? 'utf8') }));
}
