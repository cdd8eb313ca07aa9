import { toWireContent } from './encoding.ts';
import { streamExecution } from './execution-stream.ts';
import type {
  BackgroundExecution,
  ExecuteFile,
  ExecuteRequest,
  ExecutionResult,
  StreamEvent,
} from './execution-types.ts';
import { Files } from './files.ts';
import { callOptions, HttpClient, type HttpRequest } from './http.ts';
import { resolveOptions, type BuntimeOptions, type ResolvedOptions } from './options.ts';
import { Processes } from './processes.ts';
import { Sessions } from './sessions.ts';
import { Snapshots } from './snapshots.ts';
import type { IdempotentRequestOptions, RequestOptions, Usage } from './types.ts';

/**
 * Client of a Buntime server.
 *
 * ```ts
 * const client = new Buntime({ apiKey: process.env.BUNTIME_API_KEY });
 * const session = await client.sessions.create();
 * const result = await session.execute({ code: 'console.log(1 + 1)' });
 * ```
 */
export class Buntime {
  /** Create, inspect, list and delete sessions. */
  readonly sessions: Sessions;
  /** Read and write files of a session's `/workspace`. */
  readonly files: Files;
  /** List and kill a session's user processes. */
  readonly processes: Processes;
  /** Named snapshots of the account's session workspaces. */
  readonly snapshots: Snapshots;
  readonly #options: ResolvedOptions;
  readonly #http: HttpClient;

  /** @throws Error when no API key is given nor found in `BUNTIME_API_KEY`, or an option is invalid. */
  constructor(options: BuntimeOptions = {}) {
    this.#options = resolveOptions(options);
    this.#http = new HttpClient(this.#options);
    this.sessions = new Sessions(this.#http, this);
    this.files = new Files(this.#http);
    this.processes = new Processes(this.#http);
    this.snapshots = new Snapshots(this.#http);
  }

  /** The API base URL in use, without a trailing slash. */
  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /**
   * Runs code or a shell command in a session and waits for its result. A failing program is a
   * result (`status`, `exitCode`, `timedOut`), not an exception. The client timeout of the call
   * is the client's `timeout` plus the execution's `timeout`. Retried on 429/503/network errors
   * only when `options.idempotencyKey` is given (otherwise a retry could run the code twice).
   * With `background: true` it answers at once with `{executionId, pid}` (see {@link spawn}).
   */
  execute(request: ExecuteRequest & { background: true }, options?: IdempotentRequestOptions): Promise<BackgroundExecution>;
  execute(request: ExecuteRequest & { background?: false }, options?: IdempotentRequestOptions): Promise<ExecutionResult>;
  execute(request: ExecuteRequest, options?: IdempotentRequestOptions): Promise<ExecutionResult | BackgroundExecution>;
  execute(request: ExecuteRequest, options: IdempotentRequestOptions = {}): Promise<ExecutionResult | BackgroundExecution> {
    return this.#http.json(this.#executeRequest(request, options));
  }

  /** Starts a background process in a session and returns at once; it keeps running there. */
  spawn(request: ExecuteRequest, options: IdempotentRequestOptions = {}): Promise<BackgroundExecution> {
    return this.execute({ ...request, background: true }, options);
  }

  /**
   * Runs code or a command and yields its output as it happens, then `{type: 'result'}`. A cut
   * connection is resumed from the last event seen (`Last-Event-ID`), so each event arrives
   * once; `maxRetries` bounds resumes in a row that bring nothing new. An `event: error` throws
   * a {@link BuntimeError}. The request is sent when iteration starts and is never retried;
   * the client timeout (client `timeout` + execution `timeout`) bounds the whole stream.
   */
  executeStream(request: ExecuteRequest & { background?: false }, options: RequestOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    return streamExecution({
      http: this.#http,
      body: executeBody({ ...request, background: false }),
      budgetMs: options.timeout ?? this.#executionBudgetMs(request),
      maxStalledResumes: this.#options.maxRetries,
      retryDelayMs: this.#options.retryDelayMs,
      signal: options.signal,
    });
  }

  /** Usage and limits of the calling key's account (`GET /usage`). */
  usage(options: RequestOptions = {}): Promise<Usage> {
    return this.#http.json({ method: 'GET', path: '/usage', ...callOptions(options) });
  }

  #executeRequest(request: ExecuteRequest, options: IdempotentRequestOptions): HttpRequest {
    const key = options.idempotencyKey;
    return {
      method: 'POST',
      path: '/execute',
      json: executeBody(request),
      headers: key === undefined ? {} : { 'idempotency-key': key },
      retry: key !== undefined,
      timeoutMs: options.timeout ?? this.#executionBudgetMs(request),
      signal: options.signal,
    };
  }

  /** The client's timeout, plus the execution's own when the call waits for it. */
  #executionBudgetMs(request: ExecuteRequest): number {
    const executionMs = request.background ? 0 : (request.timeout ?? 0) * 1000;
    return this.#options.timeoutMs + executionMs;
  }
}

/** The wire body of `POST /execute`: bytes of `files` as base64, unset fields left out. */
function executeBody(request: ExecuteRequest): Record<string, unknown> {
  const { files, background, ...rest } = request;
  const body: Record<string, unknown> = { ...rest };
  if (files !== undefined) body.files = files.map(wireFile);
  if (background) body.background = true;
  return body;
}

function wireFile(file: ExecuteFile): Record<string, unknown> {
  return { path: file.path, ...toWireContent(file.content, file.encoding) };
}
