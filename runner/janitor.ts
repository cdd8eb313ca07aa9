import type { Logger } from '../core/logger.ts';
import type { SessionStore } from '../core/session-store.ts';
import type { IdleKeeper } from './idle-keeper.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { Sandboxes } from './sandboxes.ts';
import type { SessionEgress } from './session-egress.ts';
import type { SnapshotStore } from './snapshot-store.ts';

/**
 * Ends sessions and clears what outlived them: deletes (on request or at expiry) and removes
 * containers of this node that no live session owns.
 */
export class Janitor {
  constructor(
    private readonly o: {
      nodeId: string;
      store: SessionStore;
      sandboxes: Sandboxes;
      lifecycle: IdleKeeper;
      snapshots: SnapshotStore;
      driver: SandboxDriver;
      egress: Pick<SessionEgress, 'forget'>;
      log: Logger;
      /** Told of every session that ends here (webhooks). */
      events?: NodeEvents;
    },
  ) {}

  /**
   * Deletes a session: its record and slot first (requests in flight then see it gone and
   * answer 404), then at once its container, data channel, snapshot and egress log. `why` is the
   * event it reports when the session existed.
   */
  async delete(sessionId: string, why: 'session.deleted' | 'session.expired' = 'session.deleted'): Promise<boolean> {
    const rec = await this.o.store.get(sessionId);
    const removed = rec ? await this.o.store.remove(rec) : false;
    if (removed) this.o.events?.session(why, sessionId, { account: rec!.account });
    this.o.lifecycle.forget(sessionId);
    await this.o.sandboxes.drop(sessionId, rec?.containerId || undefined);
    await this.o.snapshots.remove(sessionId);
    await this.o.egress.forget(sessionId).catch((err: unknown) => this.o.log.warn({ err, sessionId }, 'egress log not cleared'));
    return removed;
  }

  /** Deletes every hosted session whose expiry is due. */
  async expireDue(): Promise<number> {
    const due = await this.o.store.dueForExpiry(this.o.nodeId);
    for (const id of due) {
      const deleted = await this.delete(id, 'session.expired');
      if (!deleted) await this.o.store.forgetExpiry(this.o.nodeId, id);
      this.o.log.info({ sessionId: id }, 'session expired');
    }
    return due.length;
  }

  /** Removes containers of this node that no live session owns (after a crash or restart). */
  async reapOrphans(): Promise<number> {
    let removed = 0;
    for (const c of await this.o.driver.list(this.o.nodeId)) {
      if (this.o.sandboxes.busy(c.sessionId)) continue;
      const rec = c.sessionId ? await this.o.store.get(c.sessionId) : undefined;
      if (rec && rec.nodeId === this.o.nodeId && rec.containerId === c.containerId) continue;
      // A live session with a stray second container keeps its sandbox; an unknown one goes whole.
      if (rec) await this.o.driver.remove(c.containerId);
      else await this.o.sandboxes.drop(c.sessionId, c.containerId);
      removed++;
    }
    return removed;
  }
}
