import type { Redis } from 'ioredis';
import { BuntimeError, type ErrorBody } from '../core/errors.ts';
import { EVENTS_RETENTION_SEC, TERMINAL_EVENTS, type ExecEventLog, type StoredEvent } from '../core/exec-events.ts';
import type { Notifier } from '../core/notifier.ts';
import type { Keys } from '../core/redis.ts';

const PING_MS = 15_000;

/**
 * Reads an execution's events from its Redis Stream: from any position, woken by the runner's
 * notifications, so any API instance can serve or resume a stream.
 */
export class ExecStream {
  constructor(
    private readonly redis: Redis,
    private readonly log: ExecEventLog,
    private readonly notifier: Notifier,
    private readonly keys: Keys,
  ) {}

  /**
   * Records who may read an execution's events and the session it runs in (for session
   * tokens), kept past the result for resumption.
   */
  async claim(executionId: string, account: string, timeoutMs: number, sessionId: string): Promise<void> {
    const ttlSec = EVENTS_RETENTION_SEC + Math.ceil(timeoutMs / 1000);
    await this.redis.multi()
      .set(this.ownerKey(executionId), account, 'EX', ttlSec)
      .set(this.sessionKey(executionId), sessionId, 'EX', ttlSec)
      .exec();
  }

  /**
   * True when the stream is complete up to `afterId`: its terminal event is at or before it, so
   * a client resuming from there has seen everything.
   */
  async completeAt(executionId: string, afterId: string): Promise<boolean> {
    if (afterId === '0') return false;
    const last = await this.log.terminal(executionId);
    return last !== undefined && compareIds(last.id, afterId) <= 0;
  }

  async owner(executionId: string): Promise<string | null> {
    return this.redis.get(this.ownerKey(executionId));
  }

  /** The session a streamed execution runs in, or null. */
  async sessionOf(executionId: string): Promise<string | null> {
    return this.redis.get(this.sessionKey(executionId));
  }

  /** Appends an error as the terminal event, unless the stream already has one. */
  async fail(executionId: string, error: ErrorBody): Promise<void> {
    await this.log.append(executionId, { event: 'error', data: error });
  }

  /**
   * Delivers every event after `afterId` ('0' for all) in order until the terminal one, calling
   * `ping` when idle for 15 s. Stops early when `signal` aborts (the client went away).
   */
  async follow(executionId: string, afterId: string, emit: (e: StoredEvent) => void, ping: () => void, signal: AbortSignal): Promise<void> {
    let wake: () => void = () => {};
    const stopListening = await this.notifier.listen(this.log.notifyChannel(executionId), () => wake());
    let cursor = afterId;
    try {
      while (!signal.aborted) {
        const waiting = new Promise<void>((resolve) => { wake = resolve; });
        const batch = await this.log.read(executionId, cursor);
        for (const e of batch) {
          emit(e);
          cursor = e.id;
          if (TERMINAL_EVENTS.has(e.event)) return;
        }
        if (batch.length === 0) await idle(waiting, signal, ping);
      }
    } finally {
      stopListening();
    }
  }

  private ownerKey(executionId: string): string {
    return this.keys.execOwner(executionId);
  }

  private sessionKey(executionId: string): string {
    return `${this.keys.execEvents(executionId)}:session`;
  }
}

/** Waits for a wake-up, an abort, or 15 s (then pings). */
async function idle(waiting: Promise<void>, signal: AbortSignal, ping: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: () => void = () => {};
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(() => { ping(); resolve(); }, PING_MS); });
  const aborted = new Promise<void>((resolve) => { onAbort = resolve; signal.addEventListener('abort', onAbort); });
  try {
    await Promise.race([waiting, timeout, aborted]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Orders two Redis stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/** Validates a `Last-Event-ID` (a Redis stream id). */
export function parseLastEventId(value: string | undefined): string {
  if (value === undefined || value === '') return '0';
  if (!/^\d{1,20}-\d{1,20}$/.test(value)) {
    throw new BuntimeError('invalid_request', 'malformed Last-Event-ID', { details: { field: 'Last-Event-ID' } });
  }
  return value;
}
