import { callOptions, type HttpClient } from './http.ts';
import type { KillResult, ProcessInfo, RequestOptions } from './types.ts';

/** User processes running in a session (DESIGN 2.5). Reached as `client.processes`. */
export class Processes {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** The session's running user processes (background executions included). */
  async list(sessionId: string, options: RequestOptions = {}): Promise<ProcessInfo[]> {
    const req = { method: 'GET', path: '/processes', query: { sessionId } } as const;
    const body = await this.#http.json<{ processes: ProcessInfo[] }>({ ...req, ...callOptions(options) });
    return body.processes;
  }

  /** Kills one process, or every user process of the session when `pid` is omitted. */
  kill(sessionId: string, pid?: number, options: RequestOptions = {}): Promise<KillResult> {
    const json = pid === undefined ? { sessionId } : { sessionId, pid };
    return this.#http.json({ method: 'POST', path: '/execution/kill', json, ...callOptions(options) });
  }
}
