import type { Logger } from '../core/logger.ts';
import type { SessionStore } from '../core/session-store.ts';
import type { IdleKeeper } from './idle-keeper.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { Sandboxes } from './sandboxes.ts';
import type { SessionEgress } from './session-egress.ts';
import type { SessionWorkspaces } from './session-workspaces.ts';

/**
 * Ends sessions and clears what outlived them: deletes (on request or at expiry) remove the
 * session whole, workspace and uid included; containers of this node that no live session owns
 * are removed. Nothing is destroyed on missing evidence: a container without a record goes (it
 * is disposable), but its workspace is only unmounted, never deleted, because a record that is
 * missing is not a delete.
 */
export class Janitor {
  constructor(
    private readonly o: {
      nodeId: string;
      store: SessionStore;
      sandboxes: Sandboxes;
      workspaces: SessionWorkspaces;
      lifecycle: IdleKeeper;
      driver: SandboxDriver;
      /** True while a session's container or workspace is being made: left alone. */
      busy: (sessionId: string) => boolean;
      egress: Pick<SessionEgress, 'forget'>;
      log: Logger;
      /** Told of every session that ends here (webhooks). */
      events?: NodeEvents;
    },
  ) {}

  /**
   * Deletes a session: its record and slot first (requests in flight then see it gone and
   * answer 404), then at once its container, data channel, workspace, uid and egress log. `why`
   * is the event it reports when the session existed.
   */
  async delete(sessionId: string, why: 'session.deleted' | 'session.expired' = 'session.deleted'): Promise<boolean> {
    const rec = await this.o.store.get(sessionId);
    const removed = rec ? await this.o.store.remove(rec) : false;
    if (removed) this.o.events?.session(why, sessionId, { account: rec!.account });
    this.o.lifecycle.forget(sessionId);
    await this.o.sandboxes.destroy(sessionId, rec?.containerId || undefined);
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
      if (this.o.busy(c.sessionId)) continue;
      const rec = c.sessionId ? await this.o.store.get(c.sessionId) : undefined;
      if (rec && rec.nodeId === this.o.nodeId && rec.containerId === c.containerId) continue;
      // A live session with a stray second container keeps its sandbox; an unknown one loses
      // its container and has its workspace unmounted (kept: only a delete removes it).
      if (rec) await this.o.driver.remove(c.containerId);
      else await this.dropUnknown(c.sessionId, c.containerId);
      removed++;
    }
    return removed;
  }

  private async dropUnknown(sessionId: string, containerId: string): Promise<void> {
    await this.o.sandboxes.drop(sessionId, containerId);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) return;
    await this.o.workspaces.close(sessionId).catch((err: unknown) => this.o.log.warn({ err, sessionId }, 'could not unmount an orphan workspace'));
  }
}
