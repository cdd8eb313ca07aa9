import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BuntimeError } from './errors.ts';
import { readReply } from './job-reply.ts';
import { JOB_OPTIONS, REPLY_MARGIN_MS, type JobCatalogue, type Payload, type Result } from './queues.ts';
import type { RedisClock } from './redis-clock.ts';
import { REDIS_RETRY_AFTER_SEC } from './redis.ts';

/**
 * Longest an enqueue may take before the caller is told the service is unavailable, ms: a
 * backstop above the request connection's command timeout.
 */
const ENQUEUE_TIMEOUT_MS = 2_500;

/**
 * What travels in a BullMQ job: the payload, the channel its reply is published on, and the
 * caller's deadline (epoch ms on the Redis clock).
 */
export interface JobEnvelope<P = unknown> {
  p: P;
  r: string;
  d: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: BuntimeError) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/response over BullMQ: adds a job and waits for its reply, which the runner publishes
 * on this client's own channel (one subscription per process; no per-call subscribe, no polling).
 */
export class JobRpcClient {
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Map<string, Pending>();
  private readonly channel: string;
  private started = false;

  constructor(
    private readonly o: {
      redis: Redis;
      subscriber: Redis;
      clock: RedisClock;
      bullPrefix: string;
      channelPrefix: string;
    },
  ) {
    this.channel = `${o.channelPrefix}:${randomUUID()}`;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.o.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) void this.onReply(message);
    });
    await this.o.subscriber.subscribe(this.channel);
    this.started = true;
  }

  /**
   * Adds job `name` to `queue` and resolves with its parsed result. The job carries a deadline
   * (`deadlineMs` from now, the catalogue's default unless given); past it (plus a margin for a
   * reply on its way) the call rejects with `execution_timeout`, and the runner never starts it.
   */
  async call<C extends JobCatalogue, J extends keyof C & string>(
    catalogue: C,
    queue: string,
    name: J,
    payload: Payload<C, J>,
    opts: { deadlineMs?: number; jobId?: string } = {},
  ): Promise<Result<C, J>> {
    const jobId = opts.jobId ?? randomUUID();
    const budget = opts.deadlineMs ?? catalogue[name]!.deadlineMs;
    const deadline = this.o.clock.now() + budget;
    const waitMs = budget + REPLY_MARGIN_MS;
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(jobId);
        reject(new BuntimeError('execution_timeout', 'the request outlived its server deadline', {
          details: { timeoutMs: waitMs },
        }));
      }, waitMs);
      this.pending.set(jobId, { resolve, reject, timer });
    });
    try {
      await this.enqueue(queue, name, { p: payload, r: this.channel, d: deadline }, jobId);
    } catch (err) {
      this.settle(jobId)?.reject(new BuntimeError('service_unavailable', 'could not enqueue the job', {
        cause: err, retryAfterSec: REDIS_RETRY_AFTER_SEC,
      }));
    }
    const result = await reply;
    return catalogue[name]!.result.parse(result) as Result<C, J>;
  }

  async stop(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new BuntimeError('service_unavailable', 'shutting down', { retryAfterSec: 1 }));
      this.pending.delete(id);
    }
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }

  /**
   * Adds the job, or fails within {@link ENQUEUE_TIMEOUT_MS} (the connection's own command
   * timeout normally fails it sooner). A failed add may still reach a stalled Redis when it
   * wakes, after its caller was told it failed: the job's removal goes right behind it on the
   * same connection, so Redis applies both back to back and the job never runs (its deadline
   * would stop it too). A queue whose setup failed is dropped, so the next call starts afresh.
   */
  private async enqueue(queueName: string, name: string, envelope: JobEnvelope, jobId: string): Promise<void> {
    const queue = this.queue(queueName);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('enqueue timed out')), ENQUEUE_TIMEOUT_MS);
    });
    try {
      await Promise.race([queue.add(name, envelope, { ...JOB_OPTIONS, jobId }), deadline]);
    } catch (err) {
      void queue.remove(jobId).catch(() => {});
      if (this.queues.get(queueName) === queue) this.queues.delete(queueName);
      void queue.close().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.o.redis, prefix: this.o.bullPrefix });
      // Failures surface on the calls; the event needs no handling beyond not being unhandled.
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  private async onReply(message: string): Promise<void> {
    const reply = await readReply(this.o.redis, message).catch(() => undefined);
    if (!reply) return;
    const p = this.settle(reply.id);
    if (!p) return;
    if (reply.ok) p.resolve(reply.result);
    else p.reject(BuntimeError.fromBody(reply.error, reply.retryAfterSec));
  }

  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(id);
    return p;
  }
}
