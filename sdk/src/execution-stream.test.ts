import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Buntime } from './client.ts';
import { BuntimeError } from './errors.ts';
import type { StreamEvent } from './execution-types.ts';
import {
  jsonBody,
  openStream,
  resultFixture,
  sendError,
  sseEvent,
  startServer,
  write,
  writeThenCut,
  type Handler,
  type RecordedRequest,
  type TestServer,
} from './test-server.ts';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The execution's whole event log, as the API would keep it in Redis. */
const LOG: Array<[string, string, unknown]> = [
  ['1', 'stdout', { data: 'one\n' }],
  ['2', 'stderr', { data: 'two\n' }],
  ['3', 'stdout', { data: 'three\n' }],
  ['4', 'stdout', { data: 'four ✓\n' }],
  ['5', 'result', resultFixture({ stdout: 'one\nthree\nfour ✓\n', stderr: 'two\n' })],
];

const EXPECTED: StreamEvent[] = [
  { type: 'stdout', data: 'one\n' },
  { type: 'stderr', data: 'two\n' },
  { type: 'stdout', data: 'three\n' },
  { type: 'stdout', data: 'four ✓\n' },
  { type: 'result', result: resultFixture({ stdout: 'one\nthree\nfour ✓\n', stderr: 'two\n' }) as never },
];

/** Events of the log after `lastId` (all when undefined), as SSE text. */
function after(lastId: string | undefined, log = LOG): string {
  const from = lastId === undefined ? 0 : log.findIndex(([id]) => id === lastId) + 1;
  return log.slice(from).map(([id, event, data]) => sseEvent(id, event, data)).join('');
}

function client(srv: TestServer, options: ConstructorParameters<typeof Buntime>[0] = {}): Buntime {
  return new Buntime({ apiKey: 'btk_test', baseUrl: srv.url, retryDelay: 5, ...options });
}

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** A resume endpoint that serves the rest of the log and ends. */
async function resume(req: RecordedRequest, res: ServerResponse): Promise<void> {
  openStream(res);
  await write(res, after(req.headers['last-event-id'] as string | undefined));
  res.end();
}

describe('executeStream', () => {
  it('resumes a stream cut after 2 events with Last-Event-ID; every event once, in order', async () => {
    server = await startServer(async (req, res) => {
      if (req.method === 'POST') {
        openStream(res, { 'x-execution-id': 'exe_1' });
        return writeThenCut(res, after(undefined, LOG.slice(0, 2)));
      }
      return resume(req, res);
    });
    const events = await collect(client(server).executeStream({ sessionId: 'ses_a', code: 'run()' }));
    expect(events).toEqual(EXPECTED);
    const [start, resumed] = server.requests;
    expect(server.requests).toHaveLength(2);
    expect([start!.method, start!.path, jsonBody(start!).stream, jsonBody(start!).sessionId]).toEqual(['POST', '/execute', true, 'ses_a']);
    expect([resumed!.method, resumed!.path, resumed!.headers['last-event-id']]).toEqual(['GET', '/executions/exe_1/events', '2']);
    expect(resumed!.headers.authorization).toBe('Bearer btk_test');
  });

  it('learns the execution id from the first event when the header is absent', async () => {
    const log: Array<[string, string, unknown]> = [['0', 'start', { executionId: 'exe_9' }], ...LOG];
    server = await startServer(async (req, res) => {
      if (req.method === 'POST') {
        openStream(res);
        return writeThenCut(res, after(undefined, log.slice(0, 3)));
      }
      openStream(res);
      await write(res, after(req.headers['last-event-id'] as string, log));
      res.end();
    });
    const events = await collect(client(server).executeStream({ sessionId: 'ses_a', command: 'ls' }));
    expect(events).toEqual(EXPECTED);
    expect(server.requests[1]!.path).toBe('/executions/exe_9/events');
    expect(server.requests[1]!.headers['last-event-id']).toBe('2');
  });

  it('drops a half-received event and gets it again from the resume', async () => {
    server = await startServer(async (req, res) => {
      if (req.method === 'POST') {
        openStream(res, { 'x-execution-id': 'exe_1' });
        const half = sseEvent('3', 'stdout', { data: 'three\n' }).slice(0, 20);
        return writeThenCut(res, after(undefined, LOG.slice(0, 2)) + ': ping\n\n' + half);
      }
      return resume(req, res);
    });
    expect(await collect(client(server).executeStream({ sessionId: 'ses_a', code: 'x' }))).toEqual(EXPECTED);
    expect(server.requests[1]!.headers['last-event-id']).toBe('2');
  });

  it('survives a cut after every event, and a server that replays the Last-Event-ID event', async () => {
    server = await startServer(async (req, res) => {
      const last = req.headers['last-event-id'] as string | undefined;
      openStream(res, { 'x-execution-id': 'exe_1' });
      const index = last === undefined ? 0 : LOG.findIndex(([id]) => id === last);
      // Each connection sends the event it was asked to start after (a replay), then one new one.
      await writeThenCut(res, LOG.slice(index, index + 2).map(([id, e, d]) => sseEvent(id, e, d)).join(''));
    });
    const events = await collect(client(server, { maxRetries: 0 }).executeStream({ sessionId: 'ses_a', code: 'x' }));
    expect(events).toEqual(EXPECTED);
    expect(server.requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, '2', '3', '4']);
  });

  it('retries a resume that meets a 503', async () => {
    let resumes = 0;
    server = await startServer(async (req, res) => {
      if (req.method === 'POST') {
        openStream(res, { 'x-execution-id': 'exe_1' });
        return writeThenCut(res, after(undefined, LOG.slice(0, 2)));
      }
      if (resumes++ === 0) return sendError(res, 503, 'service_unavailable', { 'retry-after': '0' });
      return resume(req, res);
    });
    expect(await collect(client(server).executeStream({ sessionId: 'ses_a', code: 'x' }))).toEqual(EXPECTED);
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'GET']);
  });

  it('ends with a BuntimeError on event: error, after the events before it', async () => {
    server = await startServer(async (_req, res) => {
      openStream(res, { 'x-execution-id': 'exe_1' });
      const error = { error: { code: 'service_unavailable', message: 'node lost', details: { node: 'n1' } } };
      await write(res, after(undefined, LOG.slice(0, 1)) + sseEvent('2', 'error', error));
      res.end();
    });
    const seen: StreamEvent[] = [];
    const stream = client(server).executeStream({ sessionId: 'ses_a', code: 'x' });
    const error = await (async () => {
      for await (const event of stream) seen.push(event);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(EXPECTED.slice(0, 1));
    expect(error).toBeInstanceOf(BuntimeError);
    expect(error).toMatchObject({ code: 'service_unavailable', status: 503, message: 'node lost', details: { node: 'n1' }, requestId: 'req_stream' });
    expect(server.requests).toHaveLength(1);
  });

  it('throws the API error of a refused stream without retrying it', async () => {
    server = await startServer((_req, res) => sendError(res, 503, 'service_unavailable', { 'retry-after': '0' }));
    const error = await collect(client(server).executeStream({ sessionId: 'ses_a', code: 'x' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(server.requests).toHaveLength(1);
  });

  it('reports a cut it cannot resume: no execution id known yet', async () => {
    server = await startServer(async (_req, res) => {
      openStream(res);
      await writeThenCut(res, ': ping\n\n');
    });
    const error = await collect(client(server).executeStream({ sessionId: 'ses_a', code: 'x' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'network_error', status: 0 });
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after maxRetries resumes in a row that bring nothing', async () => {
    server = await startServer(async (req, res) => {
      openStream(res, { 'x-execution-id': 'exe_1' });
      await writeThenCut(res, req.method === 'POST' ? after(undefined, LOG.slice(0, 2)) : '');
    });
    const events: StreamEvent[] = [];
    const stream = client(server, { maxRetries: 2 }).executeStream({ sessionId: 'ses_a', code: 'x' });
    const error = await (async () => {
      for await (const event of stream) events.push(event);
    })().catch((e: unknown) => e);
    expect(events).toEqual(EXPECTED.slice(0, 2));
    expect(error).toMatchObject({ code: 'network_error', status: 0 });
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'GET', 'GET']);
  });

  it('bounds the whole stream by the client timeout plus the execution timeout', async () => {
    server = await startServer(async (_req, res) => {
      openStream(res, { 'x-execution-id': 'exe_1' });
      await write(res, after(undefined, LOG.slice(0, 1))); // then silence
    });
    const started = Date.now();
    const stream = client(server, { timeout: 100 }).executeStream({ sessionId: 'ses_a', code: 'x', timeout: 1 });
    const error = await collect(stream).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'timeout', status: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('closes the connection when the caller stops iterating', async () => {
    let closed: Promise<void> | undefined;
    server = await startServer(async (_req, res, raw) => {
      closed = new Promise((resolve) => raw.socket.once('close', () => resolve()));
      openStream(res, { 'x-execution-id': 'exe_1' });
      await write(res, after(undefined, LOG.slice(0, 2)));
    });
    for await (const event of client(server).executeStream({ sessionId: 'ses_a', code: 'x' })) {
      expect(event).toEqual(EXPECTED[0]);
      break;
    }
    await expect(closed).resolves.toBeUndefined();
  });

  it('is also reachable from a Session', async () => {
    const handler: Handler = async (req, res) => {
      if (req.path === '/sessions/create') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sessionId: 'ses_s', createdAt: '', expiresAt: '', previewUrl: '', resourceLimits: {}, state: 'active' }));
        return;
      }
      openStream(res, { 'x-execution-id': 'exe_1' });
      await write(res, after(undefined));
      res.end();
    };
    server = await startServer(handler);
    const session = await client(server).sessions.create();
    expect(await collect(session.executeStream({ code: 'x' }))).toEqual(EXPECTED);
    expect(jsonBody(server.requests[1]!).sessionId).toBe('ses_s');
  });
});
