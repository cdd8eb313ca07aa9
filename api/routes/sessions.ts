import { Router } from 'express';
import { z } from 'zod';
import type { SessionService } from '../session-service.ts';
import { ctx } from '../middleware/request-context.ts';
import { createSessionBody, parse } from '../validation.ts';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export function sessionRoutes(sessions: SessionService): Router {
  const r = Router();
  r.post('/sessions/create', async (req, res) => {
    const body = parse(createSessionBody, req.body ?? {});
    res.json(await sessions.create(ctx(res).principal!, body));
  });
  r.get('/sessions', async (req, res) => {
    const q = parse(listQuery, req.query);
    res.json(await sessions.list(ctx(res).principal!, q.limit, q.offset));
  });
  r.get('/sessions/:id', async (req, res) => {
    res.json(await sessions.get(ctx(res).principal!, req.params.id));
  });
  r.delete('/sessions/:id', async (req, res) => {
    res.json(await sessions.delete(ctx(res).principal!, req.params.id));
  });
  return r;
}
