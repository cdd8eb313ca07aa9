import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { BuntimeError } from '../../core/errors.ts';
import type { Plans } from '../../core/plans.ts';
import { ctx } from '../middleware/request-context.ts';
import { base64Content, parse, workspacePath } from '../validation.ts';
import type { WorkspaceService } from '../workspace-service.ts';

const sessionId = z.string().min(1).max(64);
const pathQuery = z.object({ sessionId, path: workspacePath });
/** A tree of the workspace (upload, download, list): its root by default. */
const treeQuery = z.object({ sessionId, path: workspacePath.default('.') });
const listQuery = treeQuery.extend({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
  cursor: z.string().min(1).max(4096).optional(),
}).refine((q) => q.cursor === undefined || q.offset === 0, { message: 'use either offset or cursor', path: ['cursor'] });
const writeBody = z.strictObject({
  sessionId, path: workspacePath, content: z.string(), encoding: z.enum(['utf8', 'base64']).default('utf8'),
}).superRefine(base64Content);
const killBody = z.strictObject({ sessionId, pid: z.number().int().positive().optional() });

/** Files and processes: thin routes over {@link WorkspaceService}. */
export function workspaceRoutes(ws: WorkspaceService, plans: Plans): Router {
  const r = Router();
  r.post('/files/write', async (req, res) => {
    const who = ctx(res).principal!;
    // Raw bytes (`application/octet-stream`, sessionId and path in the query) stream through to
    // the session as they arrive; the JSON form carries the content in the body.
    if (req.is('application/octet-stream')) {
      const q = parse(pathQuery, req.query);
      try {
        const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
        res.json(await ws.writeStream(who, q, capped(req, plans[who.plan].maxFileBytes), length));
      } finally {
        drain(req);
      }
      return;
    }
    const b = parse(writeBody, req.body);
    const bytes = Buffer.from(b.content, b.encoding === 'base64' ? 'base64' : 'utf8');
    res.json(await ws.write(who, b.sessionId, b.path, bytes));
  });
  r.get('/files/read', async (req, res) => {
    const q = parse(pathQuery, req.query);
    const file = await ws.read(ctx(res).principal!, q.sessionId, q.path);
    res.type('application/octet-stream').setHeader('Content-Length', String(file.size));
    await pipeline(file.body, res).catch(() => res.destroy());
  });
  r.get('/files/list', async (req, res) => {
    const q = parse(listQuery, req.query);
    res.json(await ws.list(ctx(res).principal!, q.sessionId, q.path, { limit: q.limit, offset: q.offset, cursor: q.cursor }));
  });
  r.delete('/files', async (req, res) => {
    const q = parse(pathQuery, req.query);
    res.json(await ws.delete(ctx(res).principal!, q.sessionId, q.path));
  });
  r.post('/files/upload', async (req, res) => {
    const q = parse(treeQuery, req.query);
    const who = ctx(res).principal!;
    try {
      res.json(await ws.upload(who, q.sessionId, q.path, capped(req, uploadLimit(plans, who.plan))));
    } finally {
      drain(req);
    }
  });
  r.get('/files/download', async (req, res) => {
    const q = parse(treeQuery, req.query);
    const tar = await ws.download(ctx(res).principal!, q.sessionId, q.path);
    res.type('application/x-tar');
    await pipeline(tar, res).catch(() => res.destroy());
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

/** Largest tar body an upload takes: 64 of the plan's largest files. */
function uploadLimit(plans: Plans, plan: keyof Plans): number {
  return plans[plan].maxFileBytes * 64;
}

/**
 * Reads and drops what is left of a request body the session refused part-way (disk full, too
 * large): the answer then reaches a client that is still sending, instead of both waiting.
 */
function drain(req: Request): void {
  if (req.readableEnded) return;
  req.unpipe();
  req.resume();
}

/**
 * The request body as a stream that fails with 413 past `limit` bytes (at once when a
 * Content-Length already says so), so an upload is never buffered yet stays bounded.
 */
function capped(req: Request, limit: number): Readable {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = () => new BuntimeError('payload_too_large', `upload over ${limit} bytes`, { details: { limit } });
  if (declared > limit) throw tooLarge();
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
  req.on('error', (err) => counter.destroy(err));
  return req.pipe(counter);
}
