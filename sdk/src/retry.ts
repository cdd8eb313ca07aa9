import { BuntimeError } from './errors.ts';

/** Upper bound of one backoff step before `Retry-After` is applied, ms. */
const MAX_BACKOFF_MS = 30_000;

/**
 * Whether a failed attempt may be sent again: rate limited (429), service unavailable (503) or
 * a network failure. Client timeouts are not retried — the server may still be working on it.
 */
export function isRetryable(err: unknown): err is BuntimeError {
  if (!(err instanceof BuntimeError)) return false;
  return err.status === 429 || err.status === 503 || err.code === 'network_error';
}

/**
 * Delay before retry number `attempt` (1-based), ms: exponential backoff with full jitter —
 * uniform in [0, baseMs·2^(attempt-1)], capped at 30 s — but never less than `retryAfterSec`.
 */
export function backoffDelayMs(attempt: number, baseMs: number, retryAfterSec?: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (attempt - 1));
  const jittered = Math.random() * ceiling;
  return Math.max(jittered, (retryAfterSec ?? 0) * 1000);
}

/**
 * Resolves after at least `ms` milliseconds (timers may fire a millisecond early, so it checks
 * the clock); rejects with the signal's reason if it aborts first.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  for (let left = ms; left > 0; left = until - Date.now()) {
    await sleepOnce(left, signal);
  }
  signal?.throwIfAborted();
}

function sleepOnce(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
