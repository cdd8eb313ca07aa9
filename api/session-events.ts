import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.ts';
import type { Keys } from '../core/redis.ts';
import type { SessionRecord } from '../core/session-store.ts';
import type { WebhookEmitter } from '../core/webhooks/index.ts';

/** Keep the "already reported" mark this long past the session's expiry, ms. */
const MARK_MARGIN_MS = 3_600_000;

/**
 * Session events the API is the one to notice: a session whose node stopped answering
 * (`session.lost`, reported once, by whichever instance sees it first) and a session of such a
 * node deleted here (`session.deleted`; a live node reports its own deletes). Fire and forget:
 * never fails or slows the request that noticed.
 */
export class ApiSessionEvents {
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly o: { redis: Redis; keys: Keys; webhooks: WebhookEmitter; log: Logger }) {}

  /** The session's node is gone; the first call per session emits `session.lost`. */
  lost(rec: SessionRecord): void {
    this.track((async () => {
      if (await this.once(rec)) await this.o.webhooks.emit(rec.account, 'session.lost', { sessionId: rec.sessionId, nodeId: rec.nodeId });
    })());
  }

  /** The session was deleted by the API itself (its node was gone). */
  deleted(rec: SessionRecord): void {
    this.track(this.o.webhooks.emit(rec.account, 'session.deleted', { sessionId: rec.sessionId, nodeId: rec.nodeId }));
  }

  /** Waits for events still being queued (before the API closes Redis). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async once(rec: SessionRecord): Promise<boolean> {
    const ttl = Math.max(60_000, rec.expiresAt - Date.now() + MARK_MARGIN_MS);
    return (await this.o.redis.set(this.o.keys.sessionLost(rec.sessionId), '1', 'PX', ttl, 'NX')) === 'OK';
  }

  private track(p: Promise<unknown>): void {
    const guarded = p.catch((err: unknown) => this.o.log.warn({ err }, 'could not emit a session event'));
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
  }
}
