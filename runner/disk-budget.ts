import { BuntimeError } from '../core/errors.ts';

/** Seconds a create refused for the budget should wait: sessions end, space comes back. */
const RETRY_AFTER_SEC = 60;

/**
 * The node's disk budget: the quotas of its workspaces may add up to `limitMb` at most. Images
 * are sparse, so this is what they could grow to, not what they use: within the budget, no
 * session can fill the host's disk for the others.
 */
export class DiskBudget {
  private readonly quotas = new Map<string, number>();
  /** Quota of creates and copies under way, held before they finish. */
  private pendingMb = 0;

  constructor(readonly limitMb: number) {}

  /** Sum of the quotas of committed workspaces, MB. */
  get usedMb(): number {
    let sum = 0;
    for (const mb of this.quotas.values()) sum += mb;
    return sum;
  }

  set(id: string, diskMb: number): void {
    this.quotas.set(id, diskMb);
  }

  delete(id: string): void {
    this.quotas.delete(id);
  }

  /**
   * Holds `diskMb` while `task` makes a workspace (which then {@link set}s it). Refused with
   * `service_unavailable` (and a retry hint) when it would pass the budget. Check and hold are
   * one synchronous step, so concurrent creates cannot both slip under the limit.
   */
  async hold<T>(diskMb: number, task: () => Promise<T>): Promise<T> {
    const used = this.usedMb + this.pendingMb;
    if (used + diskMb > this.limitMb) {
      throw new BuntimeError('service_unavailable', 'this node has no disk budget left for a workspace', {
        retryAfterSec: RETRY_AFTER_SEC,
        details: { reason: 'node_disk_budget', budgetMb: this.limitMb, usedMb: used, requestedMb: diskMb },
      });
    }
    this.pendingMb += diskMb;
    try {
      return await task();
    } finally {
      this.pendingMb -= diskMb;
    }
  }
}
