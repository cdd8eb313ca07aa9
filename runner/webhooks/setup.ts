import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { NameResolver } from '../../core/net/resolver.ts';
import { bullPrefix } from '../../core/queues.ts';
import type { Keys } from '../../core/redis.ts';
import { TargetChecker, WebhookEmitter, webhookResolver, WebhookStore } from '../../core/webhooks/index.ts';
import { NetDialer, type Dialer } from '../egress/dialer.ts';
import type { DeliveryOutcome } from '../node-metrics.ts';
import { createDeliveryWorker } from './delivery-worker.ts';

/** Seams of the delivery path, for tests: a resolver and a dialer that record, a CA to trust. */
export interface WebhookNet {
  resolver?: NameResolver;
  dialer?: Dialer;
  ca?: string;
}

type WebhookConfig = Pick<Config,
  | 'REDIS_PREFIX' | 'EGRESS_RESOLVER' | 'EGRESS_DNS_TIMEOUT_MS' | 'EGRESS_TEST_GUARD' | 'WEBHOOK_INTERNAL_HOSTS'
  | 'WEBHOOK_MAX_ATTEMPTS' | 'WEBHOOK_BACKOFF_BASE_MS' | 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_MAX_PENDING' | 'WEBHOOK_CONCURRENCY'>;

/**
 * A runner's webhook parts: the emitter its lifecycle and executions report to, and the
 * delivery worker it runs on the shared queue (every runner runs one; the API only emits).
 */
export function startWebhooks(o: {
  cfg: WebhookConfig; redis: Redis; blocking: Redis; keys: Keys; log: Logger;
  onAttempt: (outcome: DeliveryOutcome) => void; net?: WebhookNet;
}): { emitter: WebhookEmitter; worker: Worker } {
  const { cfg } = o;
  const store = new WebhookStore(o.redis, o.keys);
  const prefix = bullPrefix(cfg.REDIS_PREFIX);
  const emitter = new WebhookEmitter({
    store, redis: o.redis, bullPrefix: prefix, maxPending: cfg.WEBHOOK_MAX_PENDING, log: o.log,
    retry: { maxAttempts: cfg.WEBHOOK_MAX_ATTEMPTS, baseMs: cfg.WEBHOOK_BACKOFF_BASE_MS },
  });
  const worker = createDeliveryWorker({
    connection: o.blocking, bullPrefix: prefix, store, concurrency: cfg.WEBHOOK_CONCURRENCY, timeoutMs: cfg.WEBHOOK_TIMEOUT_MS,
    checker: new TargetChecker(o.net?.resolver ?? webhookResolver(cfg), cfg.WEBHOOK_INTERNAL_HOSTS),
    dialer: o.net?.dialer ?? new NetDialer({ testGuard: cfg.EGRESS_TEST_GUARD }),
    onAttempt: o.onAttempt, ca: o.net?.ca, log: o.log,
  });
  return { emitter, worker };
}
