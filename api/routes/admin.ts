import { z } from 'zod';
import { usageReport } from '../../core/usage.ts';
import { webhookInputSchema } from '../../core/webhooks/index.ts';
import {
  accountSchema, createdKeySchema, createdWebhookSchema, keyInfoSchema, usageReportSchema,
} from '../response-schemas.ts';
import { route } from '../route-table.ts';
import { usageQuery } from './usage.ts';
import { deletedWebhookSchema, deliveriesQuery, deliveryListSchema, webhookIdParam, webhookListSchema } from './webhooks.ts';

/** Where the admin routes are mounted (their own router: admin JWT, small bodies, their own 404). */
export const ADMIN_PREFIX = '/admin';

const accountBody = z.strictObject({ name: z.string().min(1).max(63), plan: z.string() });
const planBody = z.strictObject({ plan: z.string() });
const keyBody = z.strictObject({ label: z.string().max(200).default('') });
const nameParam = z.object({ name: z.string().describe('account name') });

const ADMIN = { tag: 'Admin', auth: ['adminJwt'] } as const;

/**
 * `/admin/*`: the operations of `buntime-admin` over HTTP, behind an admin JWT. Mounted before
 * API-key authentication; unknown admin paths answer 404 there, after the token check.
 */
export const adminRoutes = [
  route({
    ...ADMIN, method: 'get', path: '/admin/accounts', operationId: 'adminListAccounts', summary: 'List accounts',
    ok: { status: 200, description: 'Every account.', json: z.object({ accounts: z.array(accountSchema) }), name: 'AccountList' },
    errors: [],
    handler: async ({ deps }) => ({ accounts: await deps.accounts.listAccounts() }),
  }),
  route({
    ...ADMIN, method: 'post', path: '/admin/accounts', operationId: 'adminCreateAccount', summary: 'Create an account',
    body: { json: accountBody, name: 'CreateAccountRequest', required: false },
    ok: { status: 201, description: 'The account.', json: accountSchema, name: 'Account' },
    errors: [],
    handler: ({ body, deps }) => deps.accounts.createAccount(body.name, body.plan),
  }),
  route({
    ...ADMIN, method: 'put', path: '/admin/accounts/{name}/plan', operationId: 'adminSetPlan', summary: 'Change an account\'s plan',
    params: nameParam, body: { json: planBody, name: 'SetPlanRequest', required: false },
    ok: { status: 200, description: 'The account.', json: accountSchema, name: 'Account' },
    errors: ['not_found'],
    handler: ({ params, body, deps }) => deps.accounts.setPlan(params.name, body.plan),
  }),
  route({
    ...ADMIN, method: 'get', path: '/admin/accounts/{name}/keys', operationId: 'adminListKeys', summary: 'List an account\'s keys',
    params: nameParam,
    ok: { status: 200, description: 'Its keys (hashes only are kept).', json: z.object({ keys: z.array(keyInfoSchema) }), name: 'KeyList' },
    errors: ['not_found'],
    handler: async ({ params, deps }) => ({ keys: await deps.accounts.listKeys(params.name) }),
  }),
  route({
    ...ADMIN, method: 'post', path: '/admin/accounts/{name}/keys', operationId: 'adminCreateKey', summary: 'Create a key',
    params: nameParam, body: { json: keyBody, name: 'CreateKeyRequest', required: false }, noStore: true,
    ok: { status: 201, description: 'The key, shown this once.', json: createdKeySchema, name: 'CreatedKey' },
    errors: ['not_found'],
    handler: async ({ params, body, deps }) => {
      const { key, info, plan } = await deps.accounts.createKey(params.name, body.label);
      return { id: info.id, key, account: info.account, plan };
    },
  }),
  route({
    ...ADMIN, method: 'delete', path: '/admin/keys/{id}', operationId: 'adminRevokeKey', summary: 'Revoke a key',
    description: 'Its very next request, and every session token it minted, get 401.',
    params: z.object({ id: z.string().describe('key id') }),
    ok: { status: 200, description: 'The revoked key.', json: keyInfoSchema, name: 'KeyInfo' },
    errors: ['not_found'],
    handler: ({ params, deps }) => deps.accounts.revokeKey(params.id),
  }),
  route({
    ...ADMIN, method: 'get', path: '/admin/accounts/{name}/usage', operationId: 'adminGetUsage', summary: 'An account\'s usage',
    params: nameParam, query: usageQuery,
    ok: { status: 200, description: 'The plan\'s limits and the days with any activity.', json: usageReportSchema, name: 'UsageReport' },
    errors: ['not_found'],
    handler: ({ params, query, deps }) => usageReport(deps, params.name, query.days),
  }),
  route({
    ...ADMIN, method: 'get', path: '/admin/accounts/{name}/webhooks', operationId: 'adminListWebhooks', summary: 'An account\'s webhooks',
    params: nameParam,
    ok: { status: 200, description: 'Its webhooks (no secrets).', json: webhookListSchema, name: 'WebhookList' },
    errors: [],
    handler: async ({ params, deps }) => ({ webhooks: await deps.webhooks.list(params.name) }),
  }),
  route({
    ...ADMIN, method: 'post', path: '/admin/accounts/{name}/webhooks', operationId: 'adminCreateWebhook',
    summary: 'Register a webhook for an account',
    params: nameParam, body: { json: webhookInputSchema, name: 'WebhookRequest', required: false }, noStore: true,
    ok: { status: 201, description: 'The webhook, with its secret (shown only here).', json: createdWebhookSchema, name: 'CreatedWebhook' },
    errors: ['not_found'],
    handler: ({ params, body, deps }) => deps.webhooks.register(params.name, body),
  }),
  route({
    ...ADMIN, method: 'delete', path: '/admin/webhooks/{id}', operationId: 'adminDeleteWebhook', summary: 'Delete any webhook',
    params: webhookIdParam,
    ok: { status: 200, description: 'Deleted.', json: deletedWebhookSchema, name: 'DeletedWebhook' },
    errors: ['not_found'],
    handler: ({ params, deps }) => deps.webhooks.remove(params.id),
  }),
  route({
    ...ADMIN, method: 'get', path: '/admin/webhooks/{id}/deliveries', operationId: 'adminListWebhookDeliveries',
    summary: 'Any webhook\'s recent delivery attempts',
    params: webhookIdParam, query: deliveriesQuery,
    ok: { status: 200, description: 'Attempts, newest first.', json: deliveryListSchema, name: 'DeliveryList' },
    errors: ['not_found'],
    handler: async ({ params, query, deps }) => ({ deliveries: await deps.webhooks.deliveries(params.id, undefined, query.limit) }),
  }),
];
