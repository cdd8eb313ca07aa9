import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.ts';
import { webhookDeliverySchema, WEBHOOKS_QUEUE, type WebhookDelivery } from '../../core/queues.ts';
import {
  EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader, TargetRefusal,
  type DeliveryAttempt, type TargetChecker, type WebhookEvent, type WebhookRecord, type WebhookStore,
} from '../../core/webhooks/index.ts';
import { DialError, dialFirst, type Dialer } from '../egress/dialer.ts';
import type { DeliveryOutcome } from '../node-metrics.ts';
import { postOnce, PostError } from './http-post.ts';

export interface DeliveryWorkerOptions {
  /** Connection the worker blocks on (`maxRetriesPerRequest: null`). */
  connection: Redis;
  bullPrefix: string;
  store: WebhookStore;
  /** The address policy, run again before every attempt. */
  checker: TargetChecker;
  /** Dials exactly the addresses the checker returned (the egress proxy's dialer kind). */
  dialer: Dialer;
  /** Deadline of one attempt: connect, TLS, request, response headers, ms. */
  timeoutMs: number;
  concurrency: number;
  /** Told of every attempt's outcome (metrics). */
  onAttempt?: (outcome: DeliveryOutcome) => void;
  /** Certificates to trust instead of the system's (tests only). */
  ca?: string;
  log: Logger;
}

/** How one attempt went. `final`: retrying cannot help (the address policy refused the target). */
type Outcome =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string; final: boolean };

const USER_AGENT = 'Buntime-Webhooks/1';

/**
 * The delivery worker of a runner: takes delivery jobs from the shared webhooks queue, checks
 * the webhook's URL against the address policy again, dials exactly the checked address, POSTs
 * the signed event and records the attempt. A non-2xx answer (3xx included: redirects are never
 * followed), a timeout or a connection failure is retried with BullMQ's exponential backoff; a
 * refused address is not. Deleted webhooks stop their pending deliveries.
 */
export function createDeliveryWorker(o: DeliveryWorkerOptions): Worker {
  const worker = new Worker(WEBHOOKS_QUEUE, (job: Job) => processDelivery(o, job), {
    connection: o.connection, prefix: o.bullPrefix, concurrency: o.concurrency,
    // Held well past an attempt's deadline, so a slow receiver never gets the same attempt twice.
    lockDuration: Math.max(30_000, 2 * o.timeoutMs + 10_000),
  });
  // Job failures are the attempts' business (logged per webhook); this is about the worker.
  worker.on('error', (err) => o.log.warn({ err }, 'webhook worker error'));
  return worker;
}

async function processDelivery(o: DeliveryWorkerOptions, job: Job): Promise<void> {
  const d: WebhookDelivery = webhookDeliverySchema.parse(job.data);
  const deliveryId = job.id ?? '';
  const hook = await o.store.get(d.webhookId);
  if (!hook || hook.account !== d.account) {
    await o.store.releasePending(d.account, deliveryId);
    return;
  }
  const attempt = job.attemptsMade + 1;
  const started = Date.now();
  const out = await deliverOnce(o, hook, d.event);
  const retry = !out.ok && !out.final && attempt < (job.opts.attempts ?? 1);
  o.onAttempt?.(out.ok ? 'ok' : out.final ? 'refused' : 'failed');
  await o.store.logAttempt(hook.id, record({ event: d.event, deliveryId, attempt, started }, out, retry ? nextAttemptAt(job, attempt) : null));
  if (!retry) await o.store.releasePending(d.account, deliveryId);
  if (out.ok) return;
  throw retry ? new Error(out.error) : new UnrecoverableError(out.error);
}

/** One attempt: check the target, dial a checked address, POST, judge the status. */
async function deliverOnce(o: DeliveryWorkerOptions, hook: WebhookRecord, event: WebhookEvent): Promise<Outcome> {
  const deadline = Date.now() + o.timeoutMs;
  try {
    const target = await o.checker.check(hook.url);
    const { socket } = await dialFirst(o.dialer, target.addresses, target.port, Math.max(1, deadline - Date.now()));
    const body = JSON.stringify(event);
    const status = await postOnce({
      socket, tls: target.tls, host: target.host, hostHeader: target.url.host, path: `${target.url.pathname}${target.url.search}`,
      body, timeoutMs: Math.max(1, deadline - Date.now()), ca: o.ca,
      headers: {
        'content-type': 'application/json', 'user-agent': USER_AGENT,
        [SIGNATURE_HEADER]: signatureHeader(hook.secret, body, Date.now() / 1000),
        [EVENT_ID_HEADER]: event.id, [EVENT_TYPE_HEADER]: event.type,
      },
    });
    if (status >= 200 && status < 300) return { ok: true, statusCode: status };
    const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    return { ok: false, statusCode: status, error: `http_${status}${redirect}`, final: false };
  } catch (err) {
    return failure(err);
  }
}

function failure(err: unknown): Outcome {
  if (err instanceof TargetRefusal) return { ok: false, statusCode: null, error: `${err.reason}: ${err.message}`, final: !err.transient };
  // The test guard refuses before any packet, as the address policy would.
  if (err instanceof DialError) return { ok: false, statusCode: null, error: `connect_${err.failure}: ${err.message}`, final: err.failure === 'guard' };
  if (err instanceof PostError) return { ok: false, statusCode: null, error: `${err.failure}: ${err.message}`, final: false };
  return { ok: false, statusCode: null, error: `failed: ${(err as Error).message ?? String(err)}`, final: false };
}

function record(
  at: { event: WebhookEvent; deliveryId: string; attempt: number; started: number }, out: Outcome, next: string | null,
): DeliveryAttempt {
  const { event, deliveryId, attempt, started } = at;
  return {
    deliveryId, eventId: event.id, event: event.type, attempt, at: new Date(started).toISOString(), ok: out.ok,
    statusCode: out.statusCode, error: out.ok ? null : out.error, durationMs: Date.now() - started, nextAttemptAt: next,
  };
}

/** When BullMQ's exponential backoff (set when the job was queued) will run the next attempt. */
function nextAttemptAt(job: Job, attempt: number): string {
  const backoff = job.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : backoff?.delay ?? 0;
  return new Date(Date.now() + base * 2 ** (attempt - 1)).toISOString();
}
