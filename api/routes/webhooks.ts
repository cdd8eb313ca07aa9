import { z } from 'zod';
import { DELIVERY_LOG_MAX, webhookInputSchema } from '../../core/webhooks/index.ts';
import { createdWebhookSchema, deliveryAttemptSchema, webhookSchema } from '../response-schemas.ts';
import { route } from '../route-table.ts';

/** `?limit=N` of a deliveries listing (default 50, at most what is kept). */
export const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(DELIVERY_LOG_MAX).default(50) });

/** Answer of a webhook listing. */
export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema) });
/** Answer of a deletion. */
export const deletedWebhookSchema = z.object({ deleted: z.literal(true), id: z.string() });
/** Answer of a deliveries listing, newest first. */
export const deliveryListSchema = z.object({ deliveries: z.array(deliveryAttemptSchema) });
export const webhookIdParam = z.object({ id: z.string().describe('webhook id (wh_…)') });

const SIGNING = 'Deliveries are signed with `Buntime-Signature` (HMAC-SHA256 of the timestamp and the body); the target must be '
  + 'an https URL of a public address (or an operator-named internal host).';

/**
 * The caller's webhooks: `POST /webhooks {url, events, secret?}` (201; the secret is shown
 * only here), `GET /webhooks`, `DELETE /webhooks/{id}`, `GET /webhooks/{id}/deliveries`.
 */
export const webhookRoutes = [
  route({
    method: 'post', path: '/webhooks', operationId: 'createWebhook', tag: 'Webhooks', auth: ['apiKey'],
    summary: 'Register a webhook',
    description: `${SIGNING} A refused target is a 400 naming \`url\`.`,
    body: { json: webhookInputSchema, name: 'WebhookRequest', required: true }, noStore: true,
    ok: { status: 201, description: 'The webhook, with its secret (shown only here).', json: createdWebhookSchema, name: 'CreatedWebhook' },
    errors: [],
    handler: ({ body, who, deps }) => deps.webhooks.register(who().account, body),
  }),
  route({
    method: 'get', path: '/webhooks', operationId: 'listWebhooks', tag: 'Webhooks', auth: ['apiKey'],
    summary: 'List the account\'s webhooks',
    ok: { status: 200, description: 'Its webhooks (no secrets).', json: webhookListSchema, name: 'WebhookList' },
    errors: [],
    handler: async ({ who, deps }) => ({ webhooks: await deps.webhooks.list(who().account) }),
  }),
  route({
    method: 'delete', path: '/webhooks/{id}', operationId: 'deleteWebhook', tag: 'Webhooks', auth: ['apiKey'],
    summary: 'Delete a webhook',
    params: webhookIdParam,
    ok: { status: 200, description: 'Deleted.', json: deletedWebhookSchema, name: 'DeletedWebhook' },
    errors: ['not_found'],
    handler: ({ params, who, deps }) => deps.webhooks.remove(params.id, who().account),
  }),
  route({
    method: 'get', path: '/webhooks/{id}/deliveries', operationId: 'listWebhookDeliveries', tag: 'Webhooks', auth: ['apiKey'],
    summary: 'A webhook\'s recent delivery attempts',
    params: webhookIdParam, query: deliveriesQuery,
    ok: { status: 200, description: 'Attempts, newest first.', json: deliveryListSchema, name: 'DeliveryList' },
    errors: ['not_found'],
    handler: async ({ params, query, who, deps }) => ({ deliveries: await deps.webhooks.deliveries(params.id, who().account, query.limit) }),
  }),
];
