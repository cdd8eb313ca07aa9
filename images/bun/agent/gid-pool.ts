/**
 * Per-execution gids. Each execution's processes carry a gid of their own, which they cannot
 * change, so the gid names "every process of this execution". A gid goes back to the pool only
 * once no process carries it any more, and the pool hands gids out round-robin so a returned
 * gid is reused as late as possible.
 */
import { AgentError } from './protocol.ts';

/** Far above the session uids (200 000 … 1 000 000) and any system group: no meaning but a tag. */
const GID_BASE = 2_000_000_000;
const GID_COUNT = 65_536;

export class GidPool {
  private readonly inUse = new Set<number>();
  private next = 0;

  acquire(): number {
    if (this.inUse.size >= GID_COUNT) {
      throw new AgentError('internal_error', 'too many executions at once', { running: this.inUse.size });
    }
    for (;;) {
      const gid = GID_BASE + this.next;
      this.next = (this.next + 1) % GID_COUNT;
      if (!this.inUse.has(gid)) {
        this.inUse.add(gid);
        return gid;
      }
    }
  }

  release(gid: number): void {
    this.inUse.delete(gid);
  }

  has(gid: number): boolean {
    return gid >= GID_BASE && gid < GID_BASE + GID_COUNT;
  }
}
