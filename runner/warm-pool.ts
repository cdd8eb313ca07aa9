import type { Logger } from '../core/logger.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { newSessionId } from '../core/session-store.ts';
import type { Sandbox } from './sandbox-launcher.ts';

/** A started sandbox waiting for a session, already named and labelled with its future id. */
export interface WarmSandbox {
  sessionId: string;
  uid: number;
  sandbox: Sandbox;
}

/**
 * A few pre-started sandboxes of the most common shape (the plans' default limits), so that
 * creating a session takes a container whose agent already answers instead of starting one.
 * Refilled in the background, one at a time, after every take.
 */
export class WarmPool {
  private readonly ready: WarmSandbox[] = [];
  private readonly making = new Set<string>();
  private filling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly o: {
      /** Starts a sandbox for a future session. */
      make: (sessionId: string, limits: ResourceLimits) => Promise<WarmSandbox>;
      shape: ResourceLimits;
      size: number;
      log: Logger;
    },
  ) {}

  /** Sandboxes held (ready or starting): they count against the node's capacity. */
  get count(): number {
    return this.ready.length + this.making.size;
  }

  /** Sandboxes ready to be handed out now. */
  get readyCount(): number {
    return this.ready.length;
  }

  /** True for the session id of a sandbox the pool holds (the janitor must leave it alone). */
  owns(sessionId: string): boolean {
    return this.making.has(sessionId) || this.ready.some((w) => w.sessionId === sessionId);
  }

  /** A ready sandbox if `limits` has the pool's shape; the pool refills behind it. */
  take(limits: ResourceLimits): WarmSandbox | undefined {
    if (!sameShape(limits, this.o.shape)) return undefined;
    let warm = this.ready.shift();
    while (warm && !warm.sandbox.agent.alive) warm = this.ready.shift();
    void this.fill();
    return warm;
  }

  /** Starts sandboxes until the pool is full; concurrent calls share one filling loop. */
  fill(): Promise<void> {
    this.filling ??= this.fillLoop().finally(() => { this.filling = undefined; });
    return this.filling;
  }

  /** Stops refilling and hands back every pooled sandbox (to be removed). */
  async drain(): Promise<WarmSandbox[]> {
    this.stopped = true;
    await this.filling;
    return this.ready.splice(0);
  }

  private async fillLoop(): Promise<void> {
    while (!this.stopped && this.count < this.o.size) {
      const sessionId = newSessionId();
      this.making.add(sessionId);
      try {
        this.ready.push(await this.o.make(sessionId, this.o.shape));
      } catch (err) {
        this.o.log.warn({ err }, 'could not start a warm sandbox');
        return;
      } finally {
        this.making.delete(sessionId);
      }
    }
  }
}

/** Same container: memory, cpu and disk (timeout is a per-execution default, not a container property). */
function sameShape(a: ResourceLimits, b: ResourceLimits): boolean {
  return a.memory === b.memory && a.cpu === b.cpu && a.disk === b.disk;
}
