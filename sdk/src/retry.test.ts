import { afterEach, describe, expect, it } from 'vitest';
import { Buntime } from './client.ts';
import { BuntimeError } from './errors.ts';
import { backoffDelayMs } from './retry.ts';
import { resultFixture, sendError, sendJson, startServer, type Handler, type TestServer } from './test-server.ts';

const SESSION = {
  sessionId: 'ses_aaaaaaaaaaaaaaaaaaaa',
  createdAt: '2025-01-01T00:00:00.000Z',
  expiresAt: '2025-01-02T00:00:00.000Z',
  previewUrl: 'http://127.0.0.1:3000/preview/ses_aaaaaaaaaaaaaaaaaaaa',
  resourceLimits: { memory: 1024, cpu: 0.25, timeout: 30, disk: 1024 },
  state: 'active',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server answering the n-th request (from 0) with `answers[n]`, the last one thereafter. */
async function scripted(...answers: Handler[]): Promise<TestServer> {
  let n = 0;
  server = await startServer((req, res, raw) => answers[Math.min(n++, answers.length - 1)]!(req, res, raw));
  return server;
}

function client(srv: TestServer, options: ConstructorParameters<typeof Buntime>[0] = {}): Buntime {
  return new Buntime({ apiKey: 'btk_test', baseUrl: srv.url, retryDelay: 5, ...options });
}

const ok: Handler = (_req, res) => sendJson(res, 200, { sessions: [], total: 0 });
const rateLimited = (retryAfter: string): Handler => (_req, res) =>
  sendError(res, 429, 'rate_limit_exceeded', { 'retry-after': retryAfter });
const unavailable: Handler = (_req, res) => sendError(res, 503, 'service_unavailable', { 'retry-after': '0' });

describe('retries', () => {
  it('waits at least Retry-After before retrying a 429', async () => {
    const srv = await scripted(rateLimited('1'), ok);
    const list = await client(srv).sessions.list();
    expect(list).toEqual({ sessions: [], total: 0 });
    expect(srv.requests).toHaveLength(2);
    expect(srv.requests[1]!.at - srv.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it.each([
    [400, 'invalid_request'],
    [401, 'unauthorized'],
    [404, 'session_not_found'],
  ])('does not retry a %i', async (status, code) => {
    const srv = await scripted((_req, res) => sendError(res, status, code));
    const error = await client(srv, { maxRetries: 5 }).sessions.get('ses_x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuntimeError);
    expect((error as BuntimeError).status).toBe(status);
    expect(srv.requests).toHaveLength(1);
  });

  it.each([0, 1, 3])('makes at most maxRetries=%i retries', async (maxRetries) => {
    const srv = await scripted(unavailable);
    const error = await client(srv, { maxRetries }).sessions.list().catch((e: unknown) => e);
    expect((error as BuntimeError).code).toBe('service_unavailable');
    expect((error as BuntimeError).status).toBe(503);
    expect(srv.requests).toHaveLength(maxRetries + 1);
  });

  it('calls onRetry with the error and the retry number before each retry', async () => {
    const srv = await scripted(rateLimited('0'), unavailable, ok);
    const calls: Array<[BuntimeError, number, number]> = [];
    const onRetry = (error: BuntimeError, attempt: number): void => {
      calls.push([error, attempt, srv.requests.length]);
    };
    await client(srv, { maxRetries: 2, onRetry }).sessions.list();
    expect(calls.map(([e, attempt, seen]) => [e.status, e.code, attempt, seen])).toEqual([
      [429, 'rate_limit_exceeded', 1, 1],
      [503, 'service_unavailable', 2, 2],
    ]);
    expect(calls[0]![0]).toBeInstanceOf(BuntimeError);
    expect(calls[0]![0].requestId).toBe('req_test');
  });

  it('sends the same Idempotency-Key on every attempt of a create', async () => {
    const srv = await scripted(unavailable, rateLimited('0'), (_req, res) => sendJson(res, 200, SESSION));
    const session = await client(srv).sessions.create({ ttl: 120 });
    expect(session.id).toBe(SESSION.sessionId);
    const keys = srv.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(UUID);
    expect(new Set(keys).size).toBe(1);
  });

  it('uses a given Idempotency-Key, and a fresh one for each create call', async () => {
    const srv = await scripted((_req, res) => sendJson(res, 200, SESSION));
    const c = client(srv);
    await c.sessions.create({}, { idempotencyKey: 'create-42' });
    await c.sessions.create();
    await c.sessions.create();
    const keys = srv.requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe('create-42');
    expect(keys[1]).toMatch(UUID);
    expect(keys[2]).toMatch(UUID);
    expect(keys[1]).not.toBe(keys[2]);
  });

  it('retries a network failure (connection cut before the answer)', async () => {
    const srv = await scripted((_req, res) => void res.socket?.destroy(), ok);
    const seen: Array<[string, number]> = [];
    await client(srv, { onRetry: (e) => seen.push([e.code, e.status]) }).sessions.list();
    expect(seen).toEqual([['network_error', 0]]);
    expect(srv.requests).toHaveLength(2);
  });

  it('reports a refused connection as network_error after its retries', async () => {
    const srv = await scripted(ok);
    const url = srv.url;
    await srv.close();
    server = undefined;
    let retries = 0;
    const c = new Buntime({ apiKey: 'btk_test', baseUrl: url, retryDelay: 1, maxRetries: 2, onRetry: () => retries++ });
    const error = (await c.sessions.list().catch((e: unknown) => e)) as BuntimeError;
    expect(error).toBeInstanceOf(BuntimeError);
    expect([error.code, error.status, retries]).toEqual(['network_error', 0, 2]);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('does not retry an execute without an idempotency key', async () => {
    const srv = await scripted(unavailable, (_req, res) => sendJson(res, 200, resultFixture()));
    const error = await client(srv).execute({ sessionId: 'ses_x', code: '1' }).catch((e: unknown) => e);
    expect((error as BuntimeError).status).toBe(503);
    expect(srv.requests).toHaveLength(1);
  });

  it('retries an execute that carries an idempotency key, with the same key', async () => {
    const srv = await scripted(unavailable, (_req, res) => sendJson(res, 200, resultFixture()));
    const result = await client(srv).execute({ sessionId: 'ses_x', code: '1' }, { idempotencyKey: 'run-1' });
    expect(result.status).toBe('ok');
    expect(srv.requests.map((r) => r.headers['idempotency-key'])).toEqual(['run-1', 'run-1']);
  });

  it('does not retry a client timeout', async () => {
    const srv = await scripted(() => undefined); // never answers
    const error = (await client(srv, { timeout: 150 }).sessions.list().catch((e: unknown) => e)) as BuntimeError;
    expect([error.code, error.status]).toEqual(['timeout', 0]);
    expect(srv.requests).toHaveLength(1);
  });

  it('stops waiting between retries when the caller aborts', async () => {
    const srv = await scripted(rateLimited('30'));
    const controller = new AbortController();
    const started = Date.now();
    const pending = client(srv).sessions.list({}, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    const error = (await pending) as Error;
    expect(error.message).toBe('caller gave up');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(srv.requests).toHaveLength(1);
  });
});

describe('backoffDelayMs', () => {
  it('draws full jitter under an exponential ceiling', () => {
    for (let i = 0; i < 200; i++) {
      expect(backoffDelayMs(1, 500)).toBeLessThanOrEqual(500);
      expect(backoffDelayMs(3, 500)).toBeLessThanOrEqual(2000);
      expect(backoffDelayMs(3, 500)).toBeGreaterThanOrEqual(0);
      expect(backoffDelayMs(30, 500)).toBeLessThanOrEqual(30_000);
    }
  });

  it('never goes below Retry-After', () => {
    for (let i = 0; i < 200; i++) expect(backoffDelayMs(1, 500, 2)).toBeGreaterThanOrEqual(2000);
  });
});
