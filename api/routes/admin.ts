import type { EgressLog } from '../../core/egress-log.ts';
import express, { Router } from 'express';
import { z } from 'zod';
import type { AccountStore } from '../../core/accounts.ts';
import type { AuthFailureLimit } from '../auth-failures.ts';
import type { Plans } from '../../core/plans.ts';
import { usageReport, type UsageStore } from '../../core/usage.ts';
import { webhookInputSchema, type Webhooks } from '../../core/webhooks/index.ts';
import { adminAuth } from '../middleware/admin-auth.ts';
import { notFound } from '../middleware/error-handler.ts';
import { parse } from '../validation.ts';
import { usageQuery } from './usage.ts';
import { deliveriesQuery } from './webhooks.ts';

export interface AdminDeps {
  /** `ADMIN_JWT_SECRET`; without it every admin request is 401. */
  secret: string | undefined;
  /** `ADMIN_TOKEN_MAX_TTL`: a token expiring further ahead is refused, s. */
  maxTtlSec: number;
  failures: AuthFailureLimit;
  accounts: AccountStore;
  usage: UsageStore;
  plans: Plans;
  webhooks: Webhooks;
  /** Egress byte counters, for usage reports. */
  egress: EgressLog;
}

const accountBody = z.strictObject({ name: z.string().min(1).max(63), plan: z.string() });
const planBody = z.strictObject({ plan: z.string() });
const keyBody = z.strictObject({ label: z.string().max(200).default('') });

/**
 * `/admin/*`: the operations of `buntime-admin` over HTTP, behind an admin JWT. Mounted before
 * API-key authentication; unknown admin paths answer 404 here, after the token check.
 */
export function adminRoutes(d: AdminDeps): Router {
  const r = Router();
  r.use(adminAuth(d.secret, d.maxTtlSec, d.failures));
  r.use(express.json({ limit: '16kb' }));
  r.get('/accounts', async (_req, res) => {
    res.json({ accounts: await d.accounts.listAccounts() });
  });
  r.post('/accounts', async (req, res) => {
    const b = parse(accountBody, req.body ?? {});
    res.status(201).json(await d.accounts.createAccount(b.name, b.plan));
  });
  r.put('/accounts/:name/plan', async (req, res) => {
    res.json(await d.accounts.setPlan(req.params.name, parse(planBody, req.body ?? {}).plan));
  });
  r.get('/accounts/:name/keys', async (req, res) => {
    res.json({ keys: await d.accounts.listKeys(req.params.name) });
  });
  r.post('/accounts/:name/keys', async (req, res) => {
    const { key, info, plan } = await d.accounts.createKey(req.params.name, parse(keyBody, req.body ?? {}).label);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ id: info.id, key, account: info.account, plan });
  });
  r.delete('/keys/:id', async (req, res) => {
    res.json(await d.accounts.revokeKey(req.params.id));
  });
  r.get('/accounts/:name/usage', async (req, res) => {
    res.json(await usageReport(d, req.params.name, parse(usageQuery, req.query).days));
  });
  r.get('/accounts/:name/webhooks', async (req, res) => {
    res.json({ webhooks: await d.webhooks.list(req.params.name) });
  });
  r.post('/accounts/:name/webhooks', async (req, res) => {
    const body = parse(webhookInputSchema, req.body ?? {});
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(await d.webhooks.register(req.params.name, body));
  });
  r.delete('/webhooks/:id', async (req, res) => {
    res.json(await d.webhooks.remove(req.params.id));
  });
  r.get('/webhooks/:id/deliveries', async (req, res) => {
    res.json({ deliveries: await d.webhooks.deliveries(req.params.id, undefined, parse(deliveriesQuery, req.query).limit) });
  });
  r.use(notFound());
  return r;
}
