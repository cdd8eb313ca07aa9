/**
 * Request and response shapes of the Buntime HTTP API (DESIGN section 2), as the SDK sends and
 * returns them. Declarations only. Times are ISO-8601 strings; durations in responses are ms;
 * sizes in bytes unless a field says otherwise.
 */

/** Options every call accepts. */
export interface RequestOptions {
  /** Aborts the call (and its retries); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the client-side timeout of this call, ms. */
  timeout?: number;
}

/** Options of calls that create something and can be made safe to retry. */
export interface IdempotentRequestOptions extends RequestOptions {
  /** Sent as `Idempotency-Key`: the same key and body within 24 h get the same answer. */
  idempotencyKey?: string;
}

/** Resource limits of a session. */
export interface ResourceLimits {
  /** Memory, MB. */
  memory: number;
  /** CPU, cores (e.g. 0.25). */
  cpu: number;
  /** Default execution timeout, s. */
  timeout: number;
  /** Disk, MB. */
  disk: number;
}

/** Lifecycle state (DESIGN 4). */
export type SessionState = 'active' | 'idle' | 'deep-sleep' | 'lost';

/** Egress levels: no network, any public address, or only the names of an allowlist. */
export type EgressLevel = 'none' | 'public' | 'allowlist';

/**
 * The `network` field of `POST /sessions/create`. Entries are domain names (`example.org`: that
 * name) or globs (`*.example.org`: any name below it, not the name itself); at most 100 each.
 * `egress: "none"` is accepted on every plan; anything else that differs from the plan's
 * default needs a plan that allows custom policies (else `forbidden`).
 */
export interface NetworkRequest {
  egress: EgressLevel;
  /** Only with `egress: "allowlist"` (and then at least one). */
  allow?: string[];
  /** Names refused whatever else allows them. */
  deny?: string[];
}

/** A session's effective egress policy (`network` of a session's details). */
export interface NetworkPolicy {
  egress: EgressLevel;
  allow: string[];
  deny: string[];
  /** TCP ports a request may name. */
  ports: number[];
}

/** Body of `POST /sessions/create`; every field optional. */
export interface CreateSessionRequest {
  /** Lifetime, s. Default 86400; min 60; max the plan's ceiling. */
  ttl?: number;
  /** Free-form JSON object, ≤ 16 KB. */
  metadata?: Record<string, unknown>;
  /** Overrides of the plan's defaults (non-free plans only), each ≤ the plan's ceiling. */
  resourceLimits?: Partial<ResourceLimits>;
  /** Egress policy; default: the plan's (`public` on the shipped plans). */
  network?: NetworkRequest;
  /**
   * Start from this named snapshot of the account: the session gets its files (and its disk,
   * which `resourceLimits.disk` may not change).
   */
  snapshotId?: string;
}

/** Body of `POST /sessions/{id}/fork`; every field optional. */
export interface ForkSessionRequest {
  /** Lifetime of the fork, s. Default 86400; min 60; max the plan's ceiling. */
  ttl?: number;
  /** Metadata of the fork. Default: the source session's. */
  metadata?: Record<string, unknown>;
}

/** Body of `POST /sessions/{id}/snapshots`. */
export interface CreateSnapshotParams {
  /** A name of your own, 1–128 characters. */
  name?: string;
}

/** A named snapshot (answer of `POST /sessions/{id}/snapshots` and `GET /snapshots/{id}`). */
export interface SnapshotInfo {
  /** `snap_` + 20 alphanumerics. */
  snapshotId: string;
  /** The session it was taken of (which may be gone since). */
  sessionId: string;
  name: string | null;
  createdAt: string;
  /** Disk it takes, bytes. */
  sizeBytes: number;
}

/** Answer of `GET /snapshots`. */
export interface SnapshotList {
  snapshots: SnapshotInfo[];
  total: number;
}

/** Answer of `DELETE /snapshots/{id}`. */
export interface DeleteSnapshotResult {
  deleted: true;
  snapshotId: string;
}

/**
 * A session: the answer of `POST /sessions/create` and `GET /sessions/{id}`, and one entry of
 * `GET /sessions` (one shape for all three).
 */
export interface SessionDetails {
  /** `ses_` + 20 alphanumerics. */
  sessionId: string;
  createdAt: string;
  expiresAt: string;
  lastActive: string;
  state: SessionState;
  /**
   * Only when `state` is `lost`: `workspace_missing` (the session's files are gone from its
   * node's disk; requests answer 410 `session_lost`, only DELETE is left) or `node_unreachable`
   * (its node stopped answering; requests answer 503 until it is back).
   */
  lostReason?: string;
  /** Number of files in `/workspace` (in a listing: as last counted; a listing never wakes a session). */
  filesCount: number;
  /** Number of executions running in the session (in a listing: as last counted). */
  activeProcesses: number;
  metadata: Record<string, unknown>;
  resourceLimits: ResourceLimits;
  /** The effective egress policy. */
  network: NetworkPolicy;
  /** URL of a web server the session runs. */
  previewUrl: string;
}

/** Answer of `POST /sessions/create`: the session's details. */
export type CreateSessionResponse = SessionDetails;

/** Body of `POST /sessions/{id}/token`. */
export interface SessionTokenParams {
  /** Lifetime, s. Server default 900, at most 3600; never past the session's expiry. */
  ttl?: number;
}

/** Answer of `POST /sessions/{id}/token`. */
export interface SessionToken {
  /** HS256 JWT; send as `Authorization: Bearer`, or as `?token=` on a preview URL. */
  token: string;
  expiresAt: string;
}

/** Paging of list calls. */
export interface PageParams {
  /** Page size. Server default 50. */
  limit?: number;
  /** Entries to skip. Default 0. */
  offset?: number;
}

/** Answer of `GET /sessions`: the account's live sessions. */
export interface SessionList {
  sessions: SessionDetails[];
  /** Live sessions in all, across pages. */
  total: number;
}

/**
 * One egress attempt of a session (`GET /sessions/{id}/egress`): a plain-HTTP request or a
 * CONNECT tunnel, recorded when it ended.
 */
export interface EgressConnection {
  /** When the request arrived. */
  at: string;
  /** HTTP method, `CONNECT` for tunnels. */
  method: string;
  /** Name or IP literal the program asked for ('' when unparsable). */
  host: string;
  port: number;
  /** The address dialled, or the one refused; null when none. */
  address: string | null;
  decision: 'allowed' | 'denied';
  /** `public`, `allowlist` or `internal` when allowed; else why not (`address_refused`, `not_allowlisted`, …). */
  reason: string;
  /** Bytes received from the upstream, headers included. */
  bytesIn: number;
  /** Bytes sent to the upstream, headers included. */
  bytesOut: number;
  durationMs: number;
}

/** Answer of `GET /sessions/{id}/egress`: newest first. */
export interface EgressLogPage {
  connections: EgressConnection[];
}

/** Parameters of `sessions.egress`. */
export interface EgressLogParams {
  /** How many of the latest connections (server default 100, at most 1000). */
  limit?: number;
}

/** Answer of `DELETE /sessions/{id}`. */
export interface DeleteSessionResponse {
  deleted: true;
  sessionId: string;
}

/** A running user process (`GET /processes`). */
export interface ProcessInfo {
  pid: number;
  command: string;
  startedAt: string;
  /** The execution that started it, or `null` when it was not started by one. */
  executionId: string | null;
}

/** Answer of `POST /execution/kill`. */
export interface KillResult {
  /** Whether any process was signalled. */
  killed: boolean;
  /** The pids that were signalled. */
  pids: number[];
}

/** Encoding of file content on the wire. */
export type FileEncoding = 'utf8' | 'base64';

/** Options of `files.write`. */
export interface WriteFileOptions extends RequestOptions {
  /**
   * How a string `content` is encoded: `utf8` (default) or `base64` (the string is already
   * base64). A `Uint8Array` is sent as raw bytes (`application/octet-stream`).
   */
  encoding?: FileEncoding;
}

/** Answer of `POST /files/write`. */
export interface WriteFileResult {
  path: string;
  /** Bytes written. */
  size: number;
}

/** One entry of `GET /files/list`. */
export interface FileEntry {
  path: string;
  /** Bytes. */
  size: number;
  /** Last modification time. */
  modified: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
}

/** Parameters of `files.list`. */
export interface ListFilesParams extends PageParams {
  /** Directory to list, relative to `/workspace`. Default: `/workspace` itself. */
  path?: string;
  /**
   * Where to continue: the `nextCursor` of the previous page (instead of `offset`, whose cost
   * grows with it).
   */
  cursor?: string;
}

/**
 * Answer of `GET /files/list`: depth first, a directory before its contents; a directory's
 * entries sorted by name when it holds ≤ 10,000 of them, in the filesystem's order otherwise.
 */
export interface FileList {
  files: FileEntry[];
  /** Entries under `path`, counted up to 50,000 (a lower bound when `totalExact` is false). */
  total: number;
  totalExact: boolean;
  /** Pass as `cursor` for the next page; null when this page reached the end. */
  nextCursor: string | null;
}

/** Answer of `DELETE /files`. */
export interface DeleteFileResult {
  deleted: true;
  path: string;
}

/** Answer of `POST /files/upload`. */
export interface UploadResult {
  /** Number of entries extracted from the archive. */
  files: number;
}

/**
 * Answer of `GET /usage`: the calling account's consumption and limits. DESIGN does not fix its
 * fields yet, so they are passed through untyped.
 */
export type Usage = Record<string, unknown>;
