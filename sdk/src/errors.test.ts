import { afterEach, describe, expect, it } from 'vitest';
import { Buntime } from './client.ts';
import { BuntimeError, errorFromEvent, parseRetryAfter } from './errors.ts';
import { sendError, startServer, type Handler, type TestServer } from './test-server.ts';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function failure(handler: Handler, call: (c: Buntime) => Promise<unknown>): Promise<BuntimeError> {
  server = await startServer(handler);
  const c = new Buntime({ apiKey: 'btk_test', baseUrl: server.url, maxRetries: 0 });
  const error = await call(c).then(
    () => { throw new Error('expected the call to fail'); },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BuntimeError);
  expect(error).toBeInstanceOf(Error);
  return error as BuntimeError;
}

describe('BuntimeError from responses', () => {
  it('401: status, code, message, request id, no retryAfter', async () => {
    const error = await failure(
      (_req, res) => sendError(res, 401, 'unauthorized', { 'www-authenticate': 'Bearer', 'x-request-id': 'req_401' }),
      (c) => c.sessions.list(),
    );
    expect(error).toMatchObject({ name: 'BuntimeError', status: 401, code: 'unauthorized', message: 'unauthorized (test)' });
    expect(error.requestId).toBe('req_401');
    expect(error.retryAfter).toBeUndefined();
    expect(error.details).toEqual({});
  });

  it('404: session_not_found with its details', async () => {
    const error = await failure(
      (_req, res) => sendError(res, 404, 'session_not_found', { 'x-request-id': 'req_404' }, { sessionId: 'ses_gone' }),
      (c) => c.sessions.get('ses_gone'),
    );
    expect([error.status, error.code, error.requestId, error.retryAfter]).toEqual([404, 'session_not_found', 'req_404', undefined]);
    expect(error.details).toEqual({ sessionId: 'ses_gone' });
  });

  it('429: retryAfter in seconds from Retry-After', async () => {
    const error = await failure(
      (_req, res) => sendError(res, 429, 'rate_limit_exceeded', { 'retry-after': '7', 'x-request-id': 'req_429' }),
      (c) => c.usage(),
    );
    expect([error.status, error.code, error.retryAfter, error.requestId]).toEqual([429, 'rate_limit_exceeded', 7, 'req_429']);
  });

  it('a body without the envelope gets a code from its status', async () => {
    const error = await failure(
      (_req, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>Bad Gateway</h1>');
      },
      (c) => c.sessions.list(),
    );
    expect([error.status, error.code, error.requestId]).toEqual([502, 'service_unavailable', undefined]);
    expect(error.message).toContain('HTTP 502');
  });

  it('a 200 that is not JSON is an invalid_response', async () => {
    const error = await failure(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('hello');
      },
      (c) => c.sessions.list(),
    );
    expect([error.status, error.code]).toEqual([0, 'invalid_response']);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, ignores garbage', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTen)).toBeGreaterThanOrEqual(9);
    expect(parseRetryAfter(inTen)).toBeLessThanOrEqual(11);
  });
});

describe('errorFromEvent', () => {
  it('reads the error object with or without its wrapper and maps the status', () => {
    const wrapped = errorFromEvent({ error: { code: 'memory_limit_exceeded', message: 'oom', details: { limit: 1 } } }, 'req_1');
    expect([wrapped.status, wrapped.code, wrapped.message, wrapped.requestId]).toEqual([507, 'memory_limit_exceeded', 'oom', 'req_1']);
    expect(wrapped.details).toEqual({ limit: 1 });
    const bare = errorFromEvent({ code: 'something_new', message: 'x' });
    expect([bare.status, bare.code]).toEqual([0, 'something_new']);
  });
});
