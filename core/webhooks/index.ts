export { WebhookEmitter, type EventData, type WebhookEmitterOptions } from './emitter.ts';
export {
  SESSION_EVENTS, WEBHOOK_EVENTS, newEventId, webhookEventSchema,
  type ExecutionEventData, type SessionEventData, type SessionEventType, type WebhookEvent, type WebhookEventType,
} from './events.ts';
export { RETRY_WINDOW_MS, deliveryJobOptions, retryDelayMs, retrySpanMs, type RetryPolicy } from './retry.ts';
export { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, newWebhookSecret, signatureHeader } from './signature.ts';
export { DELIVERY_LOG_MAX, WebhookStore, type DeliveryAttempt, type WebhookRecord, type WebhookView } from './store.ts';
export { TargetChecker, TargetRefusal, webhookResolver, type CheckedTarget, type TargetRefusalReason } from './target.ts';
export { MAX_WEBHOOKS_PER_ACCOUNT, Webhooks, webhookInputSchema, type CreatedWebhook, type WebhookInput } from './webhooks.ts';
