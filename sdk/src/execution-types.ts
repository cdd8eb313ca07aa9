/**
 * Shapes of `POST /execute` (DESIGN 2.3) and its event stream (2.4). Declarations only.
 */
import type { FileEncoding } from './types.ts';

/** A file written into the session before the program runs. */
export interface ExecuteFile {
  /** Relative to `/workspace`; may not leave it. */
  path: string;
  /** Text, or bytes (sent as base64). */
  content: string | Uint8Array;
  /** Encoding of a string `content`: `utf8` (default) or `base64`. Ignored for bytes. */
  encoding?: FileEncoding;
}

/** Runs JS/TS source as a fresh Bun process (TypeScript works directly). */
export interface CodeSource {
  code: string;
  command?: never;
}

/** Runs a shell command with `/bin/sh -c` in the session. */
export interface CommandSource {
  command: string;
  code?: never;
}

/** What to run: exactly one of `code` and `command`. */
export type ExecutionSource = CodeSource | CommandSource;

/** Settings of one execution, besides the session and the source. */
export interface ExecutionSettings {
  /** Written before the run. */
  files?: ExecuteFile[];
  /** Extra environment for this execution only; ≤ 100 entries, names `[A-Za-z_][A-Za-z0-9_]*`. */
  env?: Record<string, string>;
  /** Limit of the run, s (integer). Default: the session's `resourceLimits.timeout`. */
  timeout?: number;
  /** Working directory inside `/workspace`. Default `/workspace`. */
  workingDir?: string;
  /** Written to the program's stdin, which is then closed. */
  stdin?: string;
}

/** An execution request without its session (what `session.execute` takes). */
export type ExecuteParams = ExecutionSource & ExecutionSettings;

/** Body of `POST /execute`. */
export type ExecuteRequest = ExecuteParams & {
  sessionId: string;
  /** Start and return at once with `{executionId, pid}`; prefer `client.spawn`. */
  background?: boolean;
};

/** How an execution ended. A failing program is a result, not an exception. */
export type ExecutionStatus = 'ok' | 'error' | 'timeout' | 'oom' | 'killed';

/** Result of a (foreground) execution. */
export interface ExecutionResult {
  executionId: string;
  stdout: string;
  stderr: string;
  /** `null` when the program was ended by a signal. */
  exitCode: number | null;
  /** e.g. `SIGKILL`, or `null`. */
  signal: string | null;
  /** Wall time, ms. */
  executionTime: number;
  /** Peak resident set size, bytes. */
  memoryUsed: number;
  /** User + system CPU time, ms. */
  cpuTime: number;
  /** The execution's `timeout` ran out; output up to then is kept. */
  timedOut: boolean;
  status: ExecutionStatus;
  /** stdout went past the retained cap (default 1 MiB) and was cut. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Paths under `/workspace` created or modified by this execution. */
  filesWritten: string[];
}

/** Answer of a background execution: the process keeps running in the session. */
export interface BackgroundExecution {
  executionId: string;
  pid: number;
}

/** A chunk of output, as it happened. */
export interface OutputEvent {
  type: 'stdout' | 'stderr';
  /** UTF-8 text of the chunk. */
  data: string;
}

/** The last event of a stream: the full result. */
export interface ResultEvent {
  type: 'result';
  result: ExecutionResult;
}

/** What `executeStream` yields: output chunks, then one result. */
export type StreamEvent = OutputEvent | ResultEvent;
