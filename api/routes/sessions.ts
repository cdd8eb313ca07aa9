import { Router } from 'express';
import { z } from 'zod';
import { EGRESS_LOG_MAX } from '../../core/egress-log.ts';
import { sendIdempotent, type Idempotency } from '../idempotency.ts';
import type { SessionService } from '../session-service.ts';
import { SESSION_TOKEN_DEFAULT_TTL, SESSION_TOKEN_MAX_TTL, type SessionTokens } from '../session-tokens.ts';
import { ctx } from '../middleware/request-context.ts';
import { createSessionBody, forkSessionBody, parse } from '../validation.ts';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const egressQuery = z.object({
  limit: z.coerce.number().int().min(1).max(EGRESS_LOG_MAX).default(100),
});
const tokenBody = z.strictObject({
  ttl: z.number().int().min(1).max(SESSION_TOKEN_MAX_TTL).default(SESSION_TOKEN_DEFAULT_TTL),
});

export function sessionRoutes(sessions: SessionService, tokens: SessionTokens, idem: Idempotency): Router {
  const r = Router();
  r.post('/sessions/create', async (req, res) => {
    const body = parse(createSessionBody, req.body ?? {});
    const who = ctx(res).principal!;
    await sendIdempotent(req, res, idem, 'sessions.create', () => sessions.create(who, body));
  });
  r.get('/sessions', async (req, res) => {
    const q = parse(listQuery, req.query);
    res.json(await sessions.list(ctx(res).principal!, q.limit, q.offset));
  });
  r.get('/sessions/:id', async (req, res) => {
    res.json(await sessions.get(ctx(res).principal!, req.params.id));
  });
  r.get('/sessions/:id/egress', async (req, res) => {
    const q = parse(egressQuery, req.query);
    res.json(await sessions.egress(ctx(res).principal!, req.params.id, q.limit));
  });
  r.post('/sessions/:id/fork', async (req, res) => {
    const body = parse(forkSessionBody, req.body ?? {});
    res.json(await sessions.fork(ctx(res).principal!, req.params.id, body));
  });
  r.post('/sessions/:id/token', async (req, res) => {
    const body = parse(tokenBody, req.body ?? {});
    res.setHeader('Cache-Control', 'no-store');
    res.json(await tokens.mint(ctx(res).principal!, req.params.id, body.ttl));
  });
  r.delete('/sessions/:id', async (req, res) => {
    res.json(await sessions.delete(ctx(res).principal!, req.params.id));
  });
  return r;
}
