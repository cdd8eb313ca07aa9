/**
 * The runner↔agent protocol, declared once. The runner imports the schemas and validates every
 * reply with them (`runner/agent-client.ts`); the in-container agent imports the types only
 * (`import type`), so zod never reaches the image and a changed field breaks the build on both
 * sides. `images/bun/PROTOCOL.md` keeps the why and the invariants.
 *
 * Two channels:
 * - control: JSON lines over the container's attach stream. Every request carries a string `id`;
 *   every reply carries the `id` it answers. A request gets zero or more progress replies and
 *   exactly one final reply (its op's reply type, or `error`).
 * - data: bulk bytes never travel on the control channel. The agent connects to the runner's
 *   per-session unix socket ({@link DATA_SOCKET} inside the container), writes one header line
 *   ({@link DataHeader}) and then raw bytes: a file's content, a preview connection, an egress
 *   connection. One connection per stream, so a slow stream never blocks another.
 */
import { z } from 'zod';

/** Where the agent reaches the runner's data socket, inside the container. */
export const DATA_SOCKET = '/run/buntime-host/data.sock';
/** The host directory holding the data socket is bind-mounted here (root-only, mode 0700). */
export const DATA_SOCKET_DIR = '/run/buntime-host';

/** First line the agent writes on a data connection, then `\n`, then raw bytes. */
export type DataHeader =
  /** A stream the runner asked for in a request (`write`, `read`, `tcp`) by its token. */
  | { kind: 'stream'; token: string }
  /** A connection a user program made to the session's egress proxy. */
  | { kind: 'egress' };

const path = z.string().min(1).max(4096);
/** A data-stream token: the runner's name for one stream, single use. */
const token = z.string().min(16).max(128);

export const fileEntrySchema = z.object({
  /** Relative to /workspace. */
  path: z.string(),
  size: z.number().int(),
  /** ISO-8601. */
  modified: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
});
export type FileEntry = z.infer<typeof fileEntrySchema>;

export const fileInputSchema = z.object({
  path: z.string().min(1).max(4096),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
export type FileInput = z.infer<typeof fileInputSchema>;

export const executionStatusSchema = z.enum(['ok', 'error', 'timeout', 'oom', 'killed']);
export type ExecutionStatus = z.infer<typeof executionStatusSchema>;

/** What the agent measures of one finished execution (the API adds `executionId`). */
export const runResultSchema = z.object({
  stdout: z.string(),
  stderr: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** Wall time, ms. */
  executionTime: z.number().int(),
  /** Peak resident set size, bytes. */
  memoryUsed: z.number().int(),
  /** User + system CPU time, ms. */
  cpuTime: z.number().int(),
  timedOut: z.boolean(),
  status: executionStatusSchema,
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
  /** Paths relative to /workspace created or modified by the execution, sorted, ≤ 1000. */
  filesWritten: z.array(z.string()),
});
export type RunResult = z.infer<typeof runResultSchema>;

export const processInfoSchema = z.object({
  pid: z.number().int(),
  command: z.string(),
  /** ISO-8601. */
  startedAt: z.string(),
  executionId: z.string().nullable(),
});
export type ProcessInfo = z.infer<typeof processInfoSchema>;

export const runRequestSchema = z.object({
  execId: z.string(),
  kind: z.enum(['code', 'command']),
  source: z.string(),
  files: z.array(fileInputSchema),
  env: z.record(z.string(), z.string()),
  /** Absolute, inside /workspace. */
  cwd: z.string(),
  stdin: z.string().nullable(),
  timeoutMs: z.number().int().positive(),
  /** Output kept per stream, bytes. */
  maxOutputBytes: z.number().int().positive(),
  maxFileBytes: z.number().int().positive(),
  /** Send `out` progress replies while the program runs (ignored by `spawn`). */
  stream: z.boolean(),
});
/** A run request as the agent receives it (defaults applied by the runner). */
export type RunRequest = z.infer<typeof runRequestSchema>;
/** A run request as a caller writes it (before defaults). */
export type RunRequestInput = z.input<typeof runRequestSchema>;

/**
 * Every op: its request fields (besides `id` and `op`) and its final reply (besides `id`).
 * The reply's `type` is the op's name, so a reply is always matched by `type === op`.
 */
export const agentOps = {
  ping: { request: z.object({}), reply: z.object({ version: z.string() }) },
  /** Runs a program to its end: a `started` progress reply, then `out` ones while it runs when `stream` is set. */
  run: { request: runRequestSchema, reply: z.object({ result: runResultSchema }) },
  /** Starts a program in the background and answers at once; its output is discarded. */
  spawn: { request: runRequestSchema, reply: z.object({ pid: z.number().int() }) },
  /** With `pid`: that process's execution (its whole gid); without: every user process. */
  kill: {
    request: z.object({ pid: z.number().int().positive().optional() }),
    reply: z.object({ pids: z.array(z.number().int()) }),
  },
  ps: { request: z.object({}), reply: z.object({ processes: z.array(processInfoSchema) }) },
  stat: {
    request: z.object({}),
    reply: z.object({ filesCount: z.number().int(), activeProcesses: z.number().int() }),
  },
  /**
   * Writes a file from the data stream `token` (atomic: temp file + rename), as the session uid.
   * The file is `size` bytes: a stream that ends short of it was cut, and changes nothing.
   * Without `size` (a client that streams without saying its length) the stream is framed:
   * chunks of a 4-byte big-endian length and that many bytes, ended by an empty chunk; a stream
   * that ends before the empty chunk was cut (core/length-frames.ts).
   */
  write: {
    request: z.object({ path, token, size: z.number().int().min(0).optional(), maxFileBytes: z.number().int().positive() }),
    reply: z.object({ path: z.string(), size: z.number().int() }),
  },
  /** Sends a file's bytes on the data stream `token`; an `opened` progress reply gives its size first. */
  read: {
    request: z.object({ path, token, maxFileBytes: z.number().int().positive() }),
    reply: z.object({ size: z.number().int() }),
  },
  /**
   * One page of a listing (images/bun/agent/list-pager.ts): `cursor` is a page's `nextCursor`
   * (null at the end); `total` counts at most 50,000 entries (`totalExact` false past that).
   */
  list: {
    request: z.object({
      path: z.string().max(4096), recursive: z.boolean(),
      limit: z.number().int().min(1), offset: z.number().int().min(0), cursor: z.string().max(4096).optional(),
    }),
    // Defaults: an agent of an older image (a session started before an upgrade) answers
    // without them, and its listings were complete and exact.
    reply: z.object({
      files: z.array(fileEntrySchema), total: z.number().int(),
      totalExact: z.boolean().default(true), nextCursor: z.string().nullable().default(null),
    }),
  },
  delete: { request: z.object({ path }), reply: z.object({ path: z.string() }) },
  mkdir: { request: z.object({ path }), reply: z.object({ path: z.string() }) },
  /**
   * Connects to `127.0.0.1:port` inside the session and relays that connection on the data
   * stream `token` (preview URLs). Answers once both ends are joined; nothing listening is
   * `not_found`.
   */
  tcp: {
    request: z.object({ port: z.number().int().min(1).max(65535), token, connectTimeoutMs: z.number().int().positive() }),
    reply: z.object({}),
  },
  /**
   * Sent by a runner when it (re)connects to an agent it did not start: the foreground runs in
   * flight belonged to the connection that is gone (their callers were told they failed), so
   * they are killed; background runs go on. Answers the ids of the executions it killed.
   */
  reset: { request: z.object({}), reply: z.object({ killed: z.array(z.string()) }) },
  /**
   * Gives every entry of /workspace (itself included) owned by uid `fromUid` to the session uid,
   * and group `fromUid` to the session gid, never following a symlink (lchown per entry). For a
   * workspace copied from another session (fork, snapshot): the runner sends it before any user
   * code runs in the container, so nothing can move under the walk. `entries`: how many changed.
   */
  reown: {
    request: z.object({ fromUid: z.number().int().min(1) }),
    reply: z.object({ entries: z.number().int() }),
  },
} as const;

export type AgentOps = typeof agentOps;
export type AgentOp = keyof AgentOps;
/** The fields of a request for `op` (without `id` and `op`). */
export type AgentRequestOf<O extends AgentOp> = z.input<AgentOps[O]['request']>;
/** The fields of the final reply to `op` (without `id` and `type`). */
export type AgentReplyOf<O extends AgentOp> = z.infer<AgentOps[O]['reply']>;
/** A request line as it travels. */
export type AgentRequest = { [O in AgentOp]: { id: string; op: O } & z.infer<AgentOps[O]['request']> }[AgentOp];

/** Progress replies: they precede a request's final reply and never end it. */
export const progressSchemas = {
  /**
   * A foreground run's program started: its pid and the gid every process of the execution
   * carries (in the container's pid namespace), so the runner can end it from the host.
   */
  started: z.object({ pid: z.number().int(), gid: z.number().int() }),
  /** Output of a streaming run (UTF-8, never splitting a character). */
  out: z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  /** A read's file is open; its bytes follow on the data stream. */
  opened: z.object({ size: z.number().int() }),
} as const;
export type ProgressType = keyof typeof progressSchemas;
export type Progress = { [P in ProgressType]: { type: P } & z.infer<(typeof progressSchemas)[P]> }[ProgressType];

/** Error codes the agent may answer with (a subset of the service's catalogue). */
export const agentErrorCodes = ['invalid_request', 'not_found', 'payload_too_large', 'disk_full', 'internal_error'] as const;
export type AgentErrorCode = (typeof agentErrorCodes)[number];

export const errorReplySchema = z.object({
  code: z.enum(agentErrorCodes),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type AgentErrorReply = z.infer<typeof errorReplySchema>;

/** A reply line as it travels: final (`type` = the op), progress, or error. */
export type AgentReplyLine =
  | ({ id: string } & Progress)
  | ({ id: string; type: 'error' } & AgentErrorReply)
  | { [O in AgentOp]: { id: string; type: O } & AgentReplyOf<O> }[AgentOp];

/** Environment the runner gives the agent (nothing else of the host reaches the container). */
export interface AgentEnvironment {
  /** uid user programs run as; owns /workspace. */
  BUNTIME_UID: string;
  /** RLIMIT_NPROC of user programs. */
  BUNTIME_NPROC: string;
  /** RLIMIT_FSIZE of user programs, bytes. */
  BUNTIME_FSIZE: string;
  /** The runner's data socket ({@link DATA_SOCKET}). */
  BUNTIME_DATA_SOCKET: string;
  /**
   * `NPM_REGISTRY_URL` of the node, when the operator set one: user programs get it as
   * `BUN_CONFIG_REGISTRY` and `NPM_CONFIG_REGISTRY` (their default package registry).
   */
  BUNTIME_NPM_REGISTRY?: string;
}
