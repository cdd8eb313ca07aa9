import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { BuntimeError } from '../core/errors.ts';
import { publishReply, type JobReply } from '../core/job-reply.ts';
import type { JobEnvelope } from '../core/job-rpc.ts';
import type { Logger } from '../core/logger.ts';
import { START_MARGIN_MS, type JobCatalogue, type JobDef, type Result } from '../core/queues.ts';
import type { RedisClock } from '../core/redis-clock.ts';
import type { Keys } from '../core/redis.ts';

/** What a handler knows of its job besides the payload. */
export interface JobContext {
  job: Job;
  /** The caller's deadline, epoch ms on the Redis clock. */
  deadline: number;
  clock: RedisClock;
}

/** One handler per job of a catalogue: a job without a handler does not compile. */
export type Handlers<C extends JobCatalogue> = {
  [J in keyof C & string]: (payload: z.infer<C[J]['payload']>, ctx: JobContext) => Promise<Result<C, J>>;
};

export interface JobWorkerOptions<C extends JobCatalogue> {
  queue: string;
  catalogue: C;
  handlers: Handlers<C>;
  /** Connection the worker blocks on (BullMQ requires `maxRetriesPerRequest: null`). */
  connection: Redis;
  /** Connection replies are published on. */
  publisher: Redis;
  keys: Keys;
  bullPrefix: string;
  concurrency: number;
  clock: RedisClock;
  log: Logger;
  /** Told of every job dropped because its deadline had passed (usage counts them). */
  onExpired?: (name: string, payload: unknown) => void;
}

/**
 * A BullMQ worker over a catalogue: parses each payload again on dequeue, refuses a job that can
 * no longer finish before its caller's deadline (the caller has, or will get, its 408: the job
 * must never run), runs its handler and publishes the reply to the caller's channel. Nothing is
 * retried: executions must never run twice.
 */
export function createJobWorker<C extends JobCatalogue>(o: JobWorkerOptions<C>): Worker {
  const process = async (job: Job): Promise<void> => {
    const env = job.data as JobEnvelope;
    const log = o.log.child({ job: job.name, jobId: job.id });
    let reply: JobReply;
    try {
      const result = await runHandler(o, job, env);
      reply = { id: job.id ?? '', ok: true, result };
    } catch (err) {
      const be = toBuntimeError(err);
      if (be.code === 'internal_error') log.error({ err }, 'job failed');
      reply = { id: job.id ?? '', ok: false, error: be.toBody(), retryAfterSec: be.retryAfterSec };
    }
    await publishReply(o.publisher, env.r, o.keys.reply(job.id ?? ''), reply);
    // Only infrastructure failures fail the job (kept for inspection); user errors are answers.
    if (!reply.ok && reply.error.code === 'internal_error') throw new UnrecoverableError(reply.error.code);
  };
  return new Worker(o.queue, process, {
    connection: o.connection,
    prefix: o.bullPrefix,
    concurrency: o.concurrency,
    // A job whose worker died is failed, not run again: executions are not idempotent.
    maxStalledCount: 0,
  });
}

async function runHandler<C extends JobCatalogue>(o: JobWorkerOptions<C>, job: Job, env: JobEnvelope): Promise<unknown> {
  const name = job.name as keyof C & string;
  const def = o.catalogue[name];
  const handler = o.handlers[name];
  if (!def || !handler) throw new BuntimeError('internal_error', `no handler for job ${job.name}`);
  const parsed = def.payload.safeParse(env.p);
  if (!parsed.success) {
    throw new BuntimeError('internal_error', `malformed ${job.name} payload`, { cause: parsed.error });
  }
  const deadline = typeof env.d === 'number' ? env.d : o.clock.now() + def.deadlineMs;
  if (!startsInTime(def, parsed.data, deadline, o.clock.now())) {
    o.onExpired?.(job.name, parsed.data);
    throw new BuntimeError('execution_timeout', 'the job waited past its deadline and was not started', {
      details: { deadline: new Date(deadline).toISOString() },
    });
  }
  return handler(parsed.data as never, { job, deadline, clock: o.clock });
}

/** A job may start only if it can finish before its deadline. */
export function startsInTime(def: JobDef, payload: unknown, deadline: number, now: number): boolean {
  const budget = def.budgetMs ? def.budgetMs(payload as never) : 0;
  return now + budget + START_MARGIN_MS <= deadline;
}

function toBuntimeError(err: unknown): BuntimeError {
  if (err instanceof BuntimeError) return err;
  return new BuntimeError('internal_error', 'internal error', { cause: err });
}
