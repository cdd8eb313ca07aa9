import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiMetrics } from '../api-metrics.ts';
import { httpMetrics } from './http-metrics.ts';

const metrics = new ApiMetrics();
let base = '';
let close: () => Promise<void> = async () => {};

beforeAll(async () => {
  const app = express();
  app.use(httpMetrics(metrics));
  const admin = Router();
  admin.get('/accounts/:name/keys', (_req, res) => void res.json({}));
  admin.get('/accounts/:name/boom', async () => { throw new Error('boom'); });
  app.use('/admin', admin);
  app.get('/sessions/:id', (_req, res) => void res.json({}));
  app.all('/preview/:sessionId{/*rest}', (_req, res) => void res.status(502).send('x'));
  app.use((_req, res) => void res.status(404).json({}));
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({}));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => server.close(() => r()));
});
afterAll(() => close());

describe('request metrics', () => {
  it('label requests by route template (mount path included) and status, never by path', async () => {
    for (const p of ['/sessions/ses_SECRET1', '/sessions/ses_SECRET2', '/admin/accounts/acme-secret/keys',
      '/admin/accounts/acme-secret/boom', '/preview/ses_SECRET3/a/b?token=t', '/random-SECRET-path']) {
      await (await fetch(base + p)).text();
    }
    const text = await metrics.registry.metrics();
    expect(text).toContain('buntime_http_requests_total{method="GET",route="/sessions/:id",status="200"} 2');
    expect(text).toContain('buntime_http_requests_total{method="GET",route="/admin/accounts/:name/keys",status="200"} 1');
    expect(text).toContain('buntime_http_requests_total{method="GET",route="/admin/accounts/:name/boom",status="500"} 1');
    expect(text).toContain('buntime_http_requests_total{method="GET",route="/preview/:sessionId{/*rest}",status="502"} 1');
    expect(text).toContain('buntime_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toMatch(/buntime_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/sessions\/:id",status="200"\} 2/);
    expect(text).not.toMatch(/SECRET|acme-secret/);
  });

  it('count executions by outcome with their wall time', async () => {
    metrics.execution('ok', 12);
    metrics.execution('timeout', 30_000);
    metrics.execution('failed');
    const text = await metrics.registry.metrics();
    expect(text).toContain('buntime_executions_total{status="ok"} 1');
    expect(text).toContain('buntime_executions_total{status="failed"} 1');
    expect(text).toContain('buntime_execution_duration_seconds_count{status="timeout"} 1');
    expect(text).not.toContain('buntime_execution_duration_seconds_count{status="failed"}');
  });
});
