import { Router } from 'express';
import { z } from 'zod';
import type { AccountStore } from '../../core/accounts.ts';
import type { EgressLog } from '../../core/egress-log.ts';
import type { Plans } from '../../core/plans.ts';
import { usageReport, type UsageStore } from '../../core/usage.ts';
import { ctx } from '../middleware/request-context.ts';
import { parse } from '../validation.ts';

/** `?days=N`: how many UTC days back, today included (default 30, at most 400). */
export const usageQuery = z.object({ days: z.coerce.number().int().min(1).max(400).default(30) });

/** `GET /usage`: the caller's account, its plan's limits and its daily usage per key. */
export function usageRoutes(d: { accounts: AccountStore; usage: UsageStore; plans: Plans; egress: EgressLog }): Router {
  const r = Router();
  r.get('/usage', async (req, res) => {
    res.json(await usageReport(d, ctx(res).principal!.account, parse(usageQuery, req.query).days));
  });
  return r;
}
