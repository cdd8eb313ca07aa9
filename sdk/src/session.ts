import type { Buntime } from './client.ts';
import type { BackgroundExecution, ExecuteParams, ExecutionResult, StreamEvent } from './execution-types.ts';
import type {
  CreateSessionResponse,
  CreateSnapshotParams,
  DeleteSessionResponse,
  EgressLogPage,
  EgressLogParams,
  ForkSessionRequest,
  IdempotentRequestOptions,
  NetworkPolicy,
  RequestOptions,
  ResourceLimits,
  SessionDetails,
  SessionState,
  SnapshotInfo,
} from './types.ts';

/**
 * A session as `sessions.create` returns it: the fields of the answer plus shortcuts that fill
 * in `sessionId`. Plain data when serialized (`JSON.stringify` shows the fields only).
 */
export class Session implements CreateSessionResponse {
  /** Same as {@link Session.sessionId}. */
  readonly id: string;
  /** `ses_` + 20 alphanumerics. */
  readonly sessionId: string;
  readonly createdAt: string;
  /** When the session is deleted unless deleted earlier (its `ttl` after creation). */
  readonly expiresAt: string;
  /** URL of a web server the session runs. */
  readonly previewUrl: string;
  readonly resourceLimits: ResourceLimits;
  /** The effective egress policy. */
  readonly network: NetworkPolicy;
  /** State at creation; `sessions.get` tells the current one. */
  readonly state: SessionState;
  readonly lastActive: string;
  /** Counts at creation; `sessions.get` tells the current ones. */
  readonly filesCount: number;
  readonly activeProcesses: number;
  readonly metadata: Record<string, unknown>;
  readonly #client: Buntime;

  constructor(client: Buntime, data: CreateSessionResponse) {
    this.#client = client;
    this.id = data.sessionId;
    this.sessionId = data.sessionId;
    this.createdAt = data.createdAt;
    this.expiresAt = data.expiresAt;
    this.previewUrl = data.previewUrl;
    this.resourceLimits = data.resourceLimits;
    this.network = data.network;
    this.state = data.state;
    this.lastActive = data.lastActive;
    this.filesCount = data.filesCount;
    this.activeProcesses = data.activeProcesses;
    this.metadata = data.metadata;
  }

  /** Runs code or a command in this session; see `Buntime.execute`. */
  execute(params: ExecuteParams, options?: IdempotentRequestOptions): Promise<ExecutionResult> {
    return this.#client.execute({ ...params, sessionId: this.sessionId, background: false }, options);
  }

  /** Starts a background process in this session; see `Buntime.spawn`. */
  spawn(params: ExecuteParams, options?: IdempotentRequestOptions): Promise<BackgroundExecution> {
    return this.#client.spawn({ ...params, sessionId: this.sessionId }, options);
  }

  /** Runs code or a command in this session, streaming its output; see `Buntime.executeStream`. */
  executeStream(params: ExecuteParams, options?: RequestOptions): AsyncGenerator<StreamEvent, void, undefined> {
    return this.#client.executeStream({ ...params, sessionId: this.sessionId }, options);
  }

  /** The current details of this session (`GET /sessions/{id}`). */
  details(options?: RequestOptions): Promise<SessionDetails> {
    return this.#client.sessions.get(this.sessionId, options);
  }

  /** This session's latest egress connections; see `Sessions.egress`. */
  egress(params?: EgressLogParams, options?: RequestOptions): Promise<EgressLogPage> {
    return this.#client.sessions.egress(this.sessionId, params, options);
  }

  /** A new session with a copy of this one's files; see `sessions.fork`. */
  fork(params?: ForkSessionRequest, options?: RequestOptions): Promise<Session> {
    return this.#client.sessions.fork(this.sessionId, params, options);
  }

  /** A named snapshot of this session's files; see `snapshots.create`. */
  snapshot(params?: CreateSnapshotParams, options?: RequestOptions): Promise<SnapshotInfo> {
    return this.#client.snapshots.create(this.sessionId, params, options);
  }

  /** Deletes this session, its container and its files. */
  delete(options?: RequestOptions): Promise<DeleteSessionResponse> {
    return this.#client.sessions.delete(this.sessionId, options);
  }
}
