import type { Logger } from '../core/logger.ts';
import type { SessionState, SessionStore } from '../core/session-store.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';

type Phase = 'active' | 'idle' | 'asleep';

interface Activity {
  lastUsed: number;
  inflight: number;
  phase: Phase;
  /** A pause, unpause or deep sleep is under way; every use waits for it. */
  busy: boolean;
  transition: Promise<void>;
}

/**
 * The lifecycle of the sessions a node hosts: a session unused for `idleAfterMs` is paused
 * (`idle`: processes frozen, no CPU), one unused for `sleepAfterMs` goes to deep sleep (its
 * container removed, its workspace unmounted). A use thaws or revives it first. Transitions
 * never overlap a use: a sweep skips a session with a job in flight, and a job waits for a
 * transition under way before it touches the sandbox.
 */
export class IdleKeeper {
  private readonly activity = new Map<string, Activity>();

  constructor(
    private readonly o: {
      driver: SandboxDriver;
      store: SessionStore;
      containerOf: (sessionId: string) => Promise<string | undefined>;
      /** A session unused this long is paused, ms. */
      idleAfterMs: number;
      /** An idle session unused this long goes to deep sleep, ms. */
      sleepAfterMs: number;
      /** Removes a session's container and unmounts its workspace. */
      deepSleep: (sessionId: string) => Promise<void>;
      /** Called once a session's container is paused (its egress connections end then). */
      paused?: (sessionId: string) => void;
      log: Logger;
      /** Told of every transition (webhooks, metrics). */
      events?: NodeEvents;
    },
  ) {}

  /** Runs `fn` for a session, thawing it first if it is idle (an asleep one `fn` revives). */
  async use<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const a = this.of(sessionId);
    a.inflight++;
    try {
      await a.transition;
      if (a.phase === 'idle') await this.begin(a, () => this.wake(sessionId, a));
      const result = await fn();
      a.phase = 'active';
      return result;
    } finally {
      a.inflight--;
      a.lastUsed = Date.now();
    }
  }

  /** Moves every session unused for long enough one step down; returns how many moved. */
  async sweep(now = Date.now()): Promise<number> {
    let moved = 0;
    for (const [sessionId, a] of this.activity) {
      if (a.inflight > 0 || a.busy) continue;
      const unused = now - a.lastUsed;
      if (a.phase === 'active' && unused >= this.o.idleAfterMs) await this.begin(a, () => this.pause(sessionId, a));
      else if (a.phase === 'idle' && unused >= this.o.sleepAfterMs) await this.begin(a, () => this.sleep(sessionId, a));
      else continue;
      moved++;
    }
    return moved;
  }

  /** Starts the idle clock of a new session. */
  track(sessionId: string): void {
    this.of(sessionId);
  }

  /**
   * Takes up a session this node already hosts (after a runner restart), with its clock where
   * the record left it: the last use and the phase it is in.
   */
  resume(sessionId: string, lastUsed: number, state: SessionState): void {
    if (this.activity.has(sessionId)) return;
    const phase: Phase = state === 'idle' ? 'idle' : state === 'deep-sleep' ? 'asleep' : 'active';
    this.activity.set(sessionId, { lastUsed, inflight: 0, phase, busy: false, transition: Promise.resolve() });
  }

  forget(sessionId: string): void {
    this.activity.delete(sessionId);
  }

  private of(sessionId: string): Activity {
    let a = this.activity.get(sessionId);
    if (!a) {
      a = { lastUsed: Date.now(), inflight: 0, phase: 'active', busy: false, transition: Promise.resolve() };
      this.activity.set(sessionId, a);
    }
    return a;
  }

  /** Runs one transition; set synchronously, so no use or sweep can slip in before it. */
  private begin(a: Activity, step: () => Promise<void>): Promise<void> {
    a.busy = true;
    a.transition = step().finally(() => { a.busy = false; });
    return a.transition;
  }

  private async pause(sessionId: string, a: Activity): Promise<void> {
    try {
      const containerId = await this.o.containerOf(sessionId);
      if (!containerId) throw new Error('no container');
      await this.o.driver.pause(containerId);
      this.o.paused?.(sessionId);
      await this.o.store.setState(sessionId, 'idle');
      a.phase = 'idle';
      this.o.events?.session('session.idle', sessionId);
    } catch (err) {
      this.o.log.warn({ err, sessionId }, 'could not pause an idle session');
      a.lastUsed = Date.now();
    }
  }

  private async sleep(sessionId: string, a: Activity): Promise<void> {
    try {
      await this.o.deepSleep(sessionId);
      a.phase = 'asleep';
      this.o.events?.session('session.sleeping', sessionId);
    } catch (err) {
      // Whatever state it was left in, the next sweeps start over from `active`.
      this.o.log.warn({ err, sessionId }, 'could not put an idle session to deep sleep');
      a.phase = 'active';
      a.lastUsed = Date.now();
    }
  }

  private async wake(sessionId: string, a: Activity): Promise<void> {
    const started = Date.now();
    const containerId = await this.o.containerOf(sessionId);
    if (containerId) await this.o.driver.unpause(containerId);
    a.phase = 'active';
    await this.o.store.setState(sessionId, 'active');
    this.o.events?.session('session.woke', sessionId, { from: 'idle', durationMs: Date.now() - started });
  }
}
