import { Router } from 'express';
import { z } from 'zod';
import { DELIVERY_LOG_MAX, webhookInputSchema, type Webhooks } from '../../core/webhooks/index.ts';
import { ctx } from '../middleware/request-context.ts';
import { parse } from '../validation.ts';

/** `?limit=N` of a deliveries listing (default 50, at most what is kept). */
export const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(DELIVERY_LOG_MAX).default(50) });

/**
 * The caller's webhooks: `POST /webhooks {url, events, secret?}` (201; the secret is shown
 * only here), `GET /webhooks`, `DELETE /webhooks/{id}`, `GET /webhooks/{id}/deliveries`.
 */
export function webhookRoutes(webhooks: Webhooks): Router {
  const r = Router();
  r.post('/webhooks', async (req, res) => {
    const body = parse(webhookInputSchema, req.body);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(await webhooks.register(ctx(res).principal!.account, body));
  });
  r.get('/webhooks', async (_req, res) => {
    res.json({ webhooks: await webhooks.list(ctx(res).principal!.account) });
  });
  r.delete('/webhooks/:id', async (req, res) => {
    res.json(await webhooks.remove(req.params.id, ctx(res).principal!.account));
  });
  r.get('/webhooks/:id/deliveries', async (req, res) => {
    const { limit } = parse(deliveriesQuery, req.query);
    res.json({ deliveries: await webhooks.deliveries(req.params.id, ctx(res).principal!.account, limit) });
  });
  return r;
}
