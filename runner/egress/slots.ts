/** Which cap refused a slot. */
export type SlotRefusal = 'session' | 'node';

/**
 * Counting semaphores for connections: at most `perSession` per session and `perNode` in all
 * (file descriptors are finite). Taking a slot is synchronous, so the one over the cap is
 * refused at once rather than queued.
 */
export class ConnectionSlots {
  private readonly bySession = new Map<string, number>();
  private total = 0;

  constructor(readonly perSession: number, readonly perNode: number) {}

  /** Takes a slot: a release function (safe to call twice), or the cap that is full. */
  take(sessionId: string): (() => void) | SlotRefusal {
    const mine = this.bySession.get(sessionId) ?? 0;
    if (mine >= this.perSession) return 'session';
    if (this.total >= this.perNode) return 'node';
    this.bySession.set(sessionId, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.bySession.get(sessionId) ?? 1) - 1;
      if (left > 0) this.bySession.set(sessionId, left);
      else this.bySession.delete(sessionId);
    };
  }

  /** Slots in use by one session, or in all. */
  count(sessionId?: string): number {
    return sessionId === undefined ? this.total : this.bySession.get(sessionId) ?? 0;
  }
}
