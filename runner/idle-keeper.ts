import type { Logger } from '../core/logger.ts';
import type { SessionStore } from '../core/session-store.ts';
import type { SandboxDriver } from './sandbox-driver.ts';

interface Activity {
  lastUsed: number;
  inflight: number;
  idle: boolean;
  /** The pause or unpause under way; every use waits for it. */
  transition: Promise<void>;
}

/**
 * Pauses the containers of sessions nobody used for `idleAfterMs` (state `idle`: processes
 * frozen, no CPU) and unpauses them, in milliseconds, for the next request. A session is never
 * paused while a job of it runs, and a job never reaches a container that is being paused.
 */
export class IdleKeeper {
  private readonly activity = new Map<string, Activity>();

  constructor(
    private readonly driver: SandboxDriver,
    private readonly store: SessionStore,
    private readonly containerOf: (sessionId: string) => Promise<string | undefined>,
    private readonly idleAfterMs: number,
    /** An idle session unused this long goes to deep sleep, ms. */
    private readonly sleepAfterMs: number,
    /** Snapshots a session's workspace and removes its container. */
    private readonly deepSleep: (sessionId: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Runs `fn` for a session, waking it first if it is idle. */
  async use<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const a = this.of(sessionId);
    a.inflight++;
    try {
      await a.transition;
      if (a.idle) {
        a.transition = this.wake(sessionId, a);
        await a.transition;
      }
      return await fn();
    } finally {
      a.inflight--;
      a.lastUsed = Date.now();
    }
  }

  /**
   * Pauses every session unused for `idleAfterMs`, and sends to deep sleep every idle one unused
   * for `sleepAfterMs`; returns how many changed state.
   */
  async sweep(now = Date.now()): Promise<number> {
    let changed = 0;
    for (const [sessionId, a] of this.activity) {
      if (a.inflight > 0) continue;
      if (a.idle && now - a.lastUsed >= this.sleepAfterMs) {
        a.transition = this.sleep(sessionId, a);
      } else if (!a.idle && now - a.lastUsed >= this.idleAfterMs) {
        a.idle = true;
        a.transition = this.pause(sessionId, a);
      } else continue;
      await a.transition;
      changed++;
    }
    return changed;
  }

  /** Starts the idle clock of a new session. */
  track(sessionId: string): void {
    this.of(sessionId);
  }

  forget(sessionId: string): void {
    this.activity.delete(sessionId);
  }

  private of(sessionId: string): Activity {
    let a = this.activity.get(sessionId);
    if (!a) {
      a = { lastUsed: Date.now(), inflight: 0, idle: false, transition: Promise.resolve() };
      this.activity.set(sessionId, a);
    }
    return a;
  }

  private async pause(sessionId: string, a: Activity): Promise<void> {
    try {
      const containerId = await this.containerOf(sessionId);
      if (!containerId) throw new Error('no container');
      await this.driver.pause(containerId);
      await this.store.setState(sessionId, 'idle');
    } catch (err) {
      a.idle = false;
      this.log.warn({ err, sessionId }, 'could not pause an idle session');
    }
  }

  /** The session leaves the keeper: its next use finds it asleep and revives it. */
  private async sleep(sessionId: string, a: Activity): Promise<void> {
    this.activity.delete(sessionId);
    try {
      await this.deepSleep(sessionId);
    } catch (err) {
      this.log.warn({ err, sessionId }, 'could not put an idle session to deep sleep');
    }
    a.idle = false;
  }

  private async wake(sessionId: string, a: Activity): Promise<void> {
    const containerId = await this.containerOf(sessionId);
    if (containerId) await this.driver.unpause(containerId);
    a.idle = false;
    await this.store.setState(sessionId, 'active');
  }
}
