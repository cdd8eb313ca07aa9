/**
 * A streamed execution (DESIGN 2.4): relays SSE output events and resumes a cut connection with
 * `GET /executions/{executionId}/events` and `Last-Event-ID`, so the caller sees every event
 * once, in order, whatever happens to the connection.
 */
import { Deadline } from './deadline.ts';
import { BuntimeError, errorFromEvent, invalidResponse, networkError } from './errors.ts';
import type { ExecutionResult, StreamEvent } from './execution-types.ts';
import type { HttpClient, HttpRequest } from './http.ts';
import { backoffDelayMs, sleep } from './retry.ts';
import { readSse, type SseMessage } from './sse.ts';

/** What one streamed execution needs from the client. */
export interface StreamSetup {
  http: HttpClient;
  /** Body of `POST /execute`, without `stream`. */
  body: Record<string, unknown>;
  /** Budget of the whole stream, resumes included, ms. */
  budgetMs: number;
  /** Resumes in a row that may bring no new event before the cut is reported. */
  maxStalledResumes: number;
  /** Backoff base between resumes that brought nothing, ms (the first resume is immediate). */
  retryDelayMs: number;
  signal?: AbortSignal;
}

/** Where the stream stands: enough to resume it. */
interface Cursor {
  executionId?: string;
  lastEventId?: string;
  requestId?: string;
}

type Outcome = { finished: true } | { finished: false; progressed: boolean; error: BuntimeError };

/** Runs the execution and yields its events; throws on `event: error` or a cut it cannot heal. */
export async function* streamExecution(setup: StreamSetup): AsyncGenerator<StreamEvent, void, undefined> {
  const deadline = new Deadline(setup.budgetMs, setup.signal);
  const cursor: Cursor = {};
  try {
    let response = await setup.http.open(startRequest(setup.body, deadline));
    for (let stalls = 0; ; ) {
      const outcome = yield* relay(response, cursor, deadline);
      if (outcome.finished) return;
      stalls = outcome.progressed ? 0 : stalls + 1;
      if (stalls > setup.maxStalledResumes) throw outcome.error;
      if (stalls > 0) await pause(backoffDelayMs(stalls, setup.retryDelayMs), deadline);
      response = await setup.http.open(resumeRequest(cursor, outcome.error, deadline));
    }
  } finally {
    deadline.clear();
  }
}

async function pause(ms: number, deadline: Deadline): Promise<void> {
  try {
    await sleep(ms, deadline.signal);
  } catch (err) {
    throw deadline.failure(err);
  }
}

function startRequest(body: Record<string, unknown>, deadline: Deadline): HttpRequest {
  const headers = { accept: 'text/event-stream' };
  // Never retried: a second POST would start a second execution.
  return { method: 'POST', path: '/execute', json: { ...body, stream: true }, headers, retry: false, deadline };
}

function resumeRequest(cursor: Cursor, cut: BuntimeError, deadline: Deadline): HttpRequest {
  if (cursor.executionId === undefined) {
    throw networkError(cut, 'stream (cut before its execution id was known, so it cannot be resumed)');
  }
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (cursor.lastEventId !== undefined) headers['last-event-id'] = cursor.lastEventId;
  const path = `/executions/${encodeURIComponent(cursor.executionId)}/events`;
  return { method: 'GET', path, headers, deadline };
}

/** Relays one connection's events until the result, an error event or the connection's end. */
async function* relay(response: Response, cursor: Cursor, deadline: Deadline): AsyncGenerator<StreamEvent, Outcome, undefined> {
  cursor.executionId ??= response.headers.get('x-execution-id') ?? undefined;
  cursor.requestId = response.headers.get('x-request-id') ?? cursor.requestId;
  if (!response.body) return { finished: false, progressed: false, error: networkError('empty body', 'stream') };
  const messages = readSse(response.body);
  const replayed = cursor.lastEventId;
  let progressed = false;
  try {
    for (;;) {
      const next = await nextMessage(messages, deadline);
      if (next === undefined) return { finished: false, progressed, error: ended() };
      if (next instanceof BuntimeError) return { finished: false, progressed, error: next };
      // Tolerates a server that replays the Last-Event-ID event itself before the new ones.
      if (!progressed && replayed !== undefined && next.id === replayed) continue;
      progressed = true;
      const event = toEvent(next, cursor);
      if (event) yield event;
      if (event?.type === 'result') return { finished: true };
    }
  } finally {
    await messages.return();
  }
}

/** The next message; `undefined` at a clean end; a `network_error` when the connection broke. */
async function nextMessage(messages: AsyncGenerator<SseMessage>, deadline: Deadline): Promise<SseMessage | BuntimeError | undefined> {
  try {
    const step = await messages.next();
    return step.done ? undefined : step.value;
  } catch (err) {
    const failure = deadline.failure(err, 'stream');
    if (failure instanceof BuntimeError && failure.code === 'network_error') return failure;
    throw failure;
  }
}

function ended(): BuntimeError {
  return networkError('the connection closed before the result', 'stream');
}

/** Advances the cursor and maps one SSE message; unknown event types yield nothing. */
function toEvent(message: SseMessage, cursor: Cursor): StreamEvent | undefined {
  const data = parseData(message.data);
  if (message.id !== undefined) cursor.lastEventId = message.id;
  if (isRecord(data) && typeof data.executionId === 'string') cursor.executionId ??= data.executionId;
  switch (message.event) {
    case 'stdout':
    case 'stderr':
      return { type: message.event, data: outputText(data, message) };
    case 'result':
      return { type: 'result', result: resultOf(data, message) };
    case 'error':
      throw errorFromEvent(data, cursor.requestId);
    default:
      return undefined;
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function outputText(data: unknown, message: SseMessage): string {
  if (isRecord(data) && typeof data.data === 'string') return data.data;
  throw invalidResponse(`malformed ${message.event} event: ${message.data.slice(0, 100)}`);
}

function resultOf(data: unknown, message: SseMessage): ExecutionResult {
  if (isRecord(data) && typeof data.executionId === 'string') return data as unknown as ExecutionResult;
  throw invalidResponse(`malformed result event: ${message.data.slice(0, 100)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
