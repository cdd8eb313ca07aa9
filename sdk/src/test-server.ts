/**
 * A real HTTP server on 127.0.0.1 (port 0) for the SDK's unit tests: records every request and
 * lets each test script the answers. Test support only; not exported by the package.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Arrival time, `performance.now()` ms. */
  at: number;
}

export type Handler = (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export interface TestServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Starts a server answering with `handler`; `close()` also drops kept-alive connections. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((raw, res) => {
    void record(raw).then(async (req) => {
      requests.push(req);
      await handler(req, res, raw);
    }).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { url: `http://127.0.0.1:${port}`, requests, close };
}

async function record(raw: IncomingMessage): Promise<RecordedRequest> {
  const at = performance.now();
  const chunks: Buffer[] = [];
  for await (const chunk of raw) chunks.push(chunk as Buffer);
  const url = new URL(raw.url ?? '/', 'http://localhost');
  return { method: raw.method ?? '', path: url.pathname, query: url.searchParams, headers: raw.headers, body: Buffer.concat(chunks), at };
}

/** Parses a recorded JSON body. */
export function jsonBody(req: RecordedRequest): Record<string, unknown> {
  return JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
}

/** Answers JSON with a request id, like the real API. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_test', ...headers });
  res.end(JSON.stringify(body));
}

/** Answers the error envelope of DESIGN 2.1. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  headers: Record<string, string> = {},
  details: Record<string, unknown> = {},
): void {
  sendJson(res, status, { error: { code, message: `${code} (test)`, details } }, headers);
}

/** Starts an event-stream answer. */
export function openStream(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_stream', ...headers });
  res.flushHeaders();
}

/** One SSE event as the API writes it. */
export function sseEvent(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Writes `text` and resolves once it has been handed to the socket. */
export function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve, reject) => res.write(text, (err) => (err ? reject(err) : resolve())));
}

/** Writes `text`, then cuts the connection without ending the chunked body. */
export async function writeThenCut(res: ServerResponse, text: string): Promise<void> {
  if (text) await write(res, text);
  await new Promise((resolve) => setTimeout(resolve, 20));
  res.socket?.destroy();
}

/** A complete execution result with `overrides` applied. */
export function resultFixture(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    executionId: 'exe_1',
    stdout: '',
    stderr: '',
    exitCode: 0,
    signal: null,
    executionTime: 12,
    memoryUsed: 1_048_576,
    cpuTime: 8,
    timedOut: false,
    status: 'ok',
    stdoutTruncated: false,
    stderrTruncated: false,
    filesWritten: [],
    ...overrides,
  };
}
