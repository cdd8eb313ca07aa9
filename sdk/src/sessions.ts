import type { Buntime } from './client.ts';
import { callOptions, type HttpClient } from './http.ts';
import { Session } from './session.ts';
import type {
  CreateSessionRequest,
  CreateSessionResponse,
  DeleteSessionResponse,
  EgressLogPage,
  EgressLogParams,
  ForkSessionRequest,
  IdempotentRequestOptions,
  PageParams,
  RequestOptions,
  SessionDetails,
  SessionList,
  SessionToken,
  SessionTokenParams,
} from './types.ts';

/** Sessions of the account (DESIGN 2.2). Reached as `client.sessions`. */
export class Sessions {
  readonly #http: HttpClient;
  readonly #client: Buntime;

  constructor(http: HttpClient, client: Buntime) {
    this.#http = http;
    this.#client = client;
  }

  /**
   * Creates a session. Always sends an `Idempotency-Key` — `options.idempotencyKey`, else a
   * random UUID — the same on every retry, so a retried create never makes two sessions.
   */
  async create(params: CreateSessionRequest = {}, options: IdempotentRequestOptions = {}): Promise<Session> {
    const headers = { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() };
    const req = { method: 'POST', path: '/sessions/create', json: params, headers } as const;
    const data = await this.#http.json<CreateSessionResponse>({ ...req, ...callOptions(options) });
    return new Session(this.#client, data);
  }

  /**
   * A new session whose `/workspace` is a copy of session `id`'s at this instant (same limits;
   * processes are not copied; its files belong to the fork's own uid). It counts against the
   * plan's session cap. Not retried: a retry could make a second fork.
   */
  async fork(id: string, params: ForkSessionRequest = {}, options: RequestOptions = {}): Promise<Session> {
    const req = { method: 'POST', path: `/sessions/${encodeURIComponent(id)}/fork`, json: params, retry: false } as const;
    const data = await this.#http.json<CreateSessionResponse>({ ...req, ...callOptions(options) });
    return new Session(this.#client, data);
  }

  /** Details of one session; `session_not_found` (404) when unknown, deleted or expired. */
  get(id: string, options: RequestOptions = {}): Promise<SessionDetails> {
    return this.#http.json({ method: 'GET', path: `/sessions/${encodeURIComponent(id)}`, ...callOptions(options) });
  }

  /** One page of the account's live sessions and their total. */
  list(params: PageParams = {}, options: RequestOptions = {}): Promise<SessionList> {
    const query = { limit: params.limit, offset: params.offset };
    return this.#http.json({ method: 'GET', path: '/sessions', query, ...callOptions(options) });
  }

  /**
   * Mints a short-lived token scoped to this one session (read it, stream its executions, open
   * its preview in a browser with `?token=`), to hand to a browser instead of the API key.
   */
  token(id: string, params: SessionTokenParams = {}, options: RequestOptions = {}): Promise<SessionToken> {
    const req = { method: 'POST', path: `/sessions/${encodeURIComponent(id)}/token`, json: params } as const;
    return this.#http.json({ ...req, ...callOptions(options) });
  }

  /**
   * The session's latest egress connections, newest first: what its programs contacted (or
   * tried to) through the egress proxy, with the decision and the bytes.
   */
  egress(id: string, params: EgressLogParams = {}, options: RequestOptions = {}): Promise<EgressLogPage> {
    const query = { limit: params.limit };
    return this.#http.json({ method: 'GET', path: `/sessions/${encodeURIComponent(id)}/egress`, query, ...callOptions(options) });
  }

  /** Deletes a session at once: its container, its files and its concurrent-session slot. */
  delete(id: string, options: RequestOptions = {}): Promise<DeleteSessionResponse> {
    return this.#http.json({ method: 'DELETE', path: `/sessions/${encodeURIComponent(id)}`, ...callOptions(options) });
  }
}
