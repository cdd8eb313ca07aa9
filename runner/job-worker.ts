import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { BuntimeError } from '../core/errors.ts';
import { publishReply, type JobReply } from '../core/job-reply.ts';
import type { JobEnvelope } from '../core/job-rpc.ts';
import type { Logger } from '../core/logger.ts';
import type { JobCatalogue, Result } from '../core/queues.ts';
import type { Keys } from '../core/redis.ts';

/** One handler per job of a catalogue: a job without a handler does not compile. */
export type Handlers<C extends JobCatalogue> = {
  [J in keyof C & string]: (payload: z.infer<C[J]['payload']>, job: Job) => Promise<Result<C, J>>;
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
  log: Logger;
}

/**
 * A BullMQ worker over a catalogue: parses each payload again on dequeue, runs its handler and
 * publishes the reply to the caller's channel. Handler failures are final for the job
 * (`UnrecoverableError`): executions must never run twice.
 */
export function createJobWorker<C extends JobCatalogue>(o: JobWorkerOptions<C>): Worker {
  const process = async (job: Job): Promise<void> => {
    const env = job.data as JobEnvelope;
    const log = o.log.child({ job: job.name, jobId: job.id });
    let reply: JobReply;
    try {
      const result = await runHandler(o, job, env.p);
      reply = { id: job.id ?? '', ok: true, result };
    } catch (err) {
      const be = toBuntimeError(err);
      if (be.code === 'internal_error') log.error({ err }, 'job failed');
      reply = { id: job.id ?? '', ok: false, error: be.toBody() };
    }
    await publishReply(o.publisher, env.r, o.keys.reply(job.id ?? ''), reply);
    if (!reply.ok) throw new UnrecoverableError(reply.error.code);
  };
  return new Worker(o.queue, process, {
    connection: o.connection,
    prefix: o.bullPrefix,
    concurrency: o.concurrency,
    // A job whose worker died is failed, not run again: executions are not idempotent.
    maxStalledCount: 0,
  });
}

async function runHandler<C extends JobCatalogue>(o: JobWorkerOptions<C>, job: Job, payload: unknown): Promise<unknown> {
  const name = job.name as keyof C & string;
  const def = o.catalogue[name];
  const handler = o.handlers[name];
  if (!def || !handler) throw new BuntimeError('internal_error', `no handler for job ${job.name}`);
  const parsed = def.payload.safeParse(payload);
  if (!parsed.success) {
    throw new BuntimeError('internal_error', `malformed ${job.name} payload`, { cause: parsed.error });
  }
  return handler(parsed.data as never, job);
}

function toBuntimeError(err: unknown): BuntimeError {
  if (err instanceof BuntimeError) return err;
  return new BuntimeError('internal_error', 'internal error', { cause: err });
}
