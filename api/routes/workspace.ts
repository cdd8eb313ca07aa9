import express, { Router } from 'express';
import { z } from 'zod';
import type { Plans } from '../../core/plans.ts';
import { ctx } from '../middleware/request-context.ts';
import { parse, workspacePath } from '../validation.ts';
import type { WorkspaceService } from '../workspace-service.ts';

const sessionId = z.string().min(1).max(64);
const pathQuery = z.object({ sessionId, path: workspacePath });
const listQuery = z.object({
  sessionId,
  path: workspacePath.default('.'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});
const writeBody = z.strictObject({
  sessionId, path: workspacePath, content: z.string(), encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
const killBody = z.strictObject({ sessionId, pid: z.number().int().positive().optional() });

/** Files and processes: thin routes over {@link WorkspaceService}. */
export function workspaceRoutes(ws: WorkspaceService, plans: Plans): Router {
  const r = Router();
  r.post('/files/write', async (req, res) => {
    const b = parse(writeBody, req.body);
    const bytes = Buffer.from(b.content, b.encoding === 'base64' ? 'base64' : 'utf8');
    res.json(await ws.write(ctx(res).principal!, b.sessionId, b.path, bytes));
  });
  r.get('/files/read', async (req, res) => {
    const q = parse(pathQuery, req.query);
    const bytes = await ws.read(ctx(res).principal!, q.sessionId, q.path);
    res.type('application/octet-stream').send(bytes);
  });
  r.get('/files/list', async (req, res) => {
    const q = parse(listQuery, req.query);
    res.json(await ws.list(ctx(res).principal!, q.sessionId, q.path, q.limit, q.offset));
  });
  r.delete('/files', async (req, res) => {
    const q = parse(pathQuery, req.query);
    res.json(await ws.delete(ctx(res).principal!, q.sessionId, q.path));
  });
  r.post('/files/upload', tarBody(plans), async (req, res) => {
    const q = parse(listQuery.pick({ sessionId: true, path: true }), req.query);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(await ws.upload(ctx(res).principal!, q.sessionId, q.path, body));
  });
  r.get('/files/download', async (req, res) => {
    const q = parse(listQuery.pick({ sessionId: true, path: true }), req.query);
    const tar = await ws.download(ctx(res).principal!, q.sessionId, q.path);
    res.type('application/x-tar').send(tar);
  });
  r.get('/processes', async (req, res) => {
    const q = parse(z.object({ sessionId }), req.query);
    res.json(await ws.processes(ctx(res).principal!, q.sessionId));
  });
  r.post('/execution/kill', async (req, res) => {
    const b = parse(killBody, req.body);
    res.json(await ws.kill(ctx(res).principal!, b.sessionId, b.pid));
  });
  return r;
}

/** Raw tar bodies up to four times the plan's largest file. */
function tarBody(plans: Plans) {
  const parsers = new Map(Object.entries(plans).map(([name, p]) => [name, express.raw({ type: () => true, limit: p.maxFileBytes * 4 })]));
  return (req: express.Request, res: express.Response, next: express.NextFunction) =>
    parsers.get(ctx(res).principal!.plan)!(req, res, next);
}
