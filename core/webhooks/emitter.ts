import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { WEBHOOK_DELIVERY_JOB, WEBHOOKS_QUEUE, type WebhookDelivery } from '../queues.ts';
import { newEventId, type ExecutionEventData, type SessionEventData, type WebhookEvent, type WebhookEventType } from './events.ts';
import { deliveryJobOptions, type RetryPolicy } from './retry.ts';
import type { WebhookStore } from './store.ts';

export interface WebhookEmitterOptions {
  store: WebhookStore;
  /** Connection the delivery queue writes on. */
  redis: Redis;
  bullPrefix: string;
  retry: RetryPolicy;
  /** Deliveries one account may have pending (`WEBHOOK_MAX_PENDING`); beyond it new ones are dropped. */
  maxPending: number;
  log: Logger;
}

/** Data of an event by its type. */
export type EventData<T extends WebhookEventType> = T extends 'execution.finished' ? ExecutionEventData : SessionEventData;

/**
 * Turns an event into one delivery job per webhook of the account that subscribed to its type.
 * Cheap when nobody listens (one SMEMBERS). Never throws: an event that cannot be queued is
 * logged and lost, the operation that caused it goes on.
 */
export class WebhookEmitter {
  private readonly queue: Queue;

  constructor(private readonly o: WebhookEmitterOptions) {
    this.queue = new Queue(WEBHOOKS_QUEUE, { connection: o.redis, prefix: o.bullPrefix });
    // Failures surface on add(); the event needs no handling beyond not being unhandled.
    this.queue.on('error', () => {});
  }

  /** Emits `type` for `account`; resolves with the number of deliveries queued. */
  async emit<T extends WebhookEventType>(account: string, type: T, data: EventData<T>, at = new Date()): Promise<number> {
    try {
      const hooks = await this.o.store.subscribers(account, type);
      if (hooks.length === 0) return 0;
      const event: WebhookEvent = { id: newEventId(), type, createdAt: at.toISOString(), data };
      const queued = await Promise.all(hooks.map((webhookId) => this.enqueue({ webhookId, account, event })));
      return queued.filter(Boolean).length;
    } catch (err) {
      this.o.log.warn({ err, event: type }, 'could not queue a webhook event');
      return 0;
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private async enqueue(d: WebhookDelivery): Promise<boolean> {
    const deliveryId = `${d.event.id}.${d.webhookId}`;
    if (!(await this.o.store.reservePending(d.account, deliveryId, this.o.maxPending))) {
      await this.o.store.logAttempt(d.webhookId, {
        deliveryId, eventId: d.event.id, event: d.event.type, attempt: 0, at: new Date().toISOString(), ok: false,
        statusCode: null, error: `dropped: ${this.o.maxPending} deliveries of this account are pending`, durationMs: 0, nextAttemptAt: null,
      });
      return false;
    }
    await this.queue.add(WEBHOOK_DELIVERY_JOB, d, deliveryJobOptions(this.o.retry, deliveryId));
    return true;
  }
}
