import type { Redis } from 'ioredis';
import type { ErrorBody } from './errors.ts';

/** What a runner publishes on the reply channel when a job ends. */
export type JobReply =
  | { id: string; ok: true; result: unknown }
  /** `retryAfterSec` travels beside the body: it becomes the answer's `Retry-After`. */
  | { id: string; ok: false; error: ErrorBody; retryAfterSec?: number };

/** Replies larger than this travel through a key, not the pub/sub message (Redis caps those). */
const INLINE_LIMIT = 512 * 1024;
const SPILL_TTL_SEC = 120;

/** Publishes a job's reply on `channel`; large ones are parked in `spillKey` and referenced. */
export async function publishReply(redis: Redis, channel: string, spillKey: string, reply: JobReply): Promise<void> {
  const text = JSON.stringify(reply);
  if (text.length <= INLINE_LIMIT) {
    await redis.publish(channel, text);
    return;
  }
  await redis.multi().set(spillKey, text, 'EX', SPILL_TTL_SEC).publish(channel, JSON.stringify({ id: reply.id, spill: spillKey })).exec();
}

/** Reads a published reply back, fetching (and deleting) a parked one. */
export async function readReply(redis: Redis, message: string): Promise<JobReply | undefined> {
  let parsed: JobReply | { id: string; spill: string };
  try {
    parsed = JSON.parse(message) as JobReply | { id: string; spill: string };
  } catch {
    return undefined;
  }
  if (!('spill' in parsed)) return parsed;
  const text = await redis.getdel(parsed.spill);
  return text ? (JSON.parse(text) as JobReply) : undefined;
}
