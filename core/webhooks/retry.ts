import type { JobsOptions } from 'bullmq';

/** Longest a delivery may keep being retried after its first attempt, ms (24 h). */
export const RETRY_WINDOW_MS = 24 * 3_600_000;

/** Attempts and backoff of webhook deliveries (`WEBHOOK_MAX_ATTEMPTS`, `WEBHOOK_BACKOFF_BASE_MS`). */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Wait after the first failed attempt, ms; each later wait doubles. */
  readonly baseMs: number;
}

/** Wait after failed attempt `attempt` (1-based) before the next, ms: base · 2^(attempt−1). */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  return policy.baseMs * 2 ** (attempt - 1);
}

/** Time from the first attempt to the last when every attempt fails, ms. */
export function retrySpanMs(policy: RetryPolicy): number {
  return policy.baseMs * (2 ** (policy.maxAttempts - 1) - 1);
}

/**
 * BullMQ options of a delivery job: BullMQ's exponential backoff is exactly
 * {@link retryDelayMs}. Done jobs go at once (the webhook's attempt log keeps the story); jobs
 * that gave up are kept a day to inspect.
 */
export function deliveryJobOptions(policy: RetryPolicy, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: policy.maxAttempts,
    backoff: { type: 'exponential', delay: policy.baseMs },
    removeOnComplete: true,
    removeOnFail: { age: 86_400, count: 1000 },
  };
}
