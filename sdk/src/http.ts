import { Deadline } from './deadline.ts';
import { errorFromResponse, invalidResponse } from './errors.ts';
import type { ResolvedOptions } from './options.ts';
import { backoffDelayMs, isRetryable, sleep } from './retry.ts';
import type { RequestOptions } from './types.ts';

const USER_AGENT = 'buntime-sdk-typescript/0.1.0';

/** One API call as the resources describe it. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, starting with `/`. */
  path: string;
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | undefined>;
  /** JSON body. */
  json?: unknown;
  /** Raw body (sent as `application/x-tar` unless `contentType` says otherwise). */
  bytes?: Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  /** May the call be retried on 429/503/network errors? Default true. */
  retry?: boolean;
  /** Budget of each attempt, ms. Default: the client's `timeout`. */
  timeoutMs?: number;
  /** The caller's cancellation signal. */
  signal?: AbortSignal;
  /** A budget shared by every attempt, owned by the caller (streams). Overrides `timeoutMs`. */
  deadline?: Deadline;
}

/** The transport fields of a call's {@link RequestOptions}. */
export function callOptions(options: RequestOptions): Pick<HttpRequest, 'signal' | 'timeoutMs'> {
  return { signal: options.signal, timeoutMs: options.timeout };
}

type ReadBody<T> = (res: Response) => Promise<T>;

/**
 * The transport: authenticates, applies timeouts, turns error responses and network failures
 * into {@link BuntimeError}s and retries what may be retried. Knows nothing about endpoints.
 */
export class HttpClient {
  readonly #options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  /** Sends the request and parses the JSON answer. */
  json<T>(req: HttpRequest): Promise<T> {
    return this.#send(req, readJson<T>);
  }

  /** Sends the request and returns the raw bytes of the answer. */
  async bytes(req: HttpRequest): Promise<Uint8Array> {
    return this.#send(req, async (res) => new Uint8Array(await res.arrayBuffer()));
  }

  /** Sends the request and returns the response with its body unread (for streams). */
  open(req: HttpRequest): Promise<Response> {
    return this.#send(req, async (res) => res);
  }

  async #send<T>(req: HttpRequest, read: ReadBody<T>): Promise<T> {
    const { maxRetries, retryDelayMs, onRetry } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(req, read);
      } catch (err) {
        if (req.retry === false || attempt > maxRetries || !isRetryable(err)) throw err;
        onRetry?.(err, attempt);
        await this.#pause(req, backoffDelayMs(attempt, retryDelayMs, err.retryAfter));
      }
    }
  }

  async #attempt<T>(req: HttpRequest, read: ReadBody<T>): Promise<T> {
    const deadline = req.deadline ?? new Deadline(req.timeoutMs ?? this.#options.timeoutMs, req.signal);
    try {
      const res = await fetch(this.#url(req), this.#init(req, deadline.signal));
      if (!res.ok) throw await errorFromResponse(res);
      return await read(res);
    } catch (err) {
      throw deadline.failure(err, `${req.method} ${req.path}`);
    } finally {
      if (!req.deadline) deadline.clear();
    }
  }

  async #pause(req: HttpRequest, ms: number): Promise<void> {
    const deadline = req.deadline;
    try {
      await sleep(ms, deadline?.signal ?? req.signal);
    } catch (err) {
      throw deadline ? deadline.failure(err) : err;
    }
  }

  #url(req: HttpRequest): string {
    const url = new URL(this.#options.baseUrl + req.path);
    for (const [name, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.href;
  }

  #init(req: HttpRequest, signal: AbortSignal): RequestInit {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#options.apiKey}`,
      'user-agent': USER_AGENT,
      ...req.headers,
    };
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.bytes !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/x-tar';
      body = ownBuffer(req.bytes);
    }
    return { method: req.method, headers, body, signal };
  }
}

async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw invalidResponse(`expected JSON from the server, got ${JSON.stringify(text.slice(0, 100))}`, err);
  }
}

/** fetch accepts views of a plain ArrayBuffer only; a view of a SharedArrayBuffer is copied. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
