import { BuntimeError } from '../core/errors.ts';
import type { ExecSlots, SlotClaim, SlotLimits } from '../core/exec-slots.ts';
import type { Logger } from '../core/logger.ts';
import type { Notifier } from '../core/notifier.ts';
import type { RedisClock } from '../core/redis-clock.ts';
import { isConnectionError, redisUnavailable } from '../core/redis.ts';

/** How often an instance renews its waiters and re-dispatches their lines (a lapsed lease frees no one else), ms. */
const REFRESH_MS = 1_000;

interface Waiter {
  claim: SlotClaim;
  limits: SlotLimits;
  granted: () => void;
}

/** A held slot: release it once the execution is over (it lapses at the deadline otherwise). */
export type ReleaseSlot = () => Promise<void>;

/**
 * Admission of executions, before any job reaches a node: an execution runs only while it holds
 * one of its account's and its session's slots (core/exec-slots.ts); over a limit the request
 * waits here, in its account's line in Redis, for a grant published by whoever frees a slot.
 * So one account's backlog never sits in a node's queue in front of another account's work.
 * A waiter that can no longer start before its deadline leaves the line and gets its 408 without
 * ever running.
 */
export class ExecAdmission {
  private readonly waiters = new Map<string, Waiter>();
  private listening: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: { slots: ExecSlots; notifier: Notifier; clock: RedisClock; log: Logger },
  ) {}

  /**
   * Resolves once the execution holds a slot, with the function that releases it; rejects with
   * `execution_timeout` when it waited until `claim.latestStart` without one.
   */
  async admit(claim: SlotClaim, limits: SlotLimits): Promise<ReleaseSlot> {
    await this.listen();
    const id = claim.executionId;
    const granted = new Promise<void>((resolve) => this.waiters.set(id, { claim, limits, granted: resolve }));
    let state;
    try {
      state = await this.o.slots.enter(claim, limits);
    } catch (err) {
      this.waiters.delete(id);
      throw isConnectionError(err) ? redisUnavailable(err) : err;
    }
    if (state === 'waiting') this.startRefreshing();
    const won = state === 'running' || (state === 'waiting' && await this.until(granted, claim.latestStart));
    this.waiters.delete(id);
    const release = () => this.o.slots.leave(claim.account, claim.sessionId, id, limits);
    if (won) return release;
    // Granted at the very last moment, or not: either way it must not run now.
    await release().catch(() => {});
    throw new BuntimeError('execution_timeout', 'the execution waited for a free slot until it could no longer finish in time', {
      details: { reason: 'queued', runningExecutions: limits },
    });
  }

  /** Subscribes to grants once (again after a failed attempt). */
  private async listen(): Promise<void> {
    this.listening ??= this.o.notifier.listen(this.o.slots.grantsChannel, (m) => this.onGrants(m));
    try {
      await this.listening;
    } catch (err) {
      this.listening = undefined;
      throw redisUnavailable(err);
    }
  }

  /** Stops renewing; waiters still in line lapse on their own. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Number of requests waiting here for a slot. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** True if `granted` settles before `latestStart` (Redis clock). */
  private async until(granted: Promise<void>, latestStart: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, latestStart - this.o.clock.now()));
    });
    try {
      return await Promise.race([granted.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private onGrants(message: string): void {
    for (const id of message.split(' ')) this.waiters.get(id)?.granted();
  }

  private startRefreshing(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh().catch((err: unknown) => {
      this.o.log.warn({ err }, 'could not renew waiting executions');
    }), REFRESH_MS);
    this.timer.unref();
  }

  /** Renews this instance's waiters, account by account; a waiter dropped meanwhile joins again. */
  private async refresh(): Promise<void> {
    if (this.waiters.size === 0) return this.stop();
    const byAccount = new Map<string, Waiter[]>();
    for (const w of this.waiters.values()) {
      const list = byAccount.get(w.claim.account) ?? [];
      list.push(w);
      byAccount.set(w.claim.account, list);
    }
    await Promise.all([...byAccount].map(async ([account, list]) => {
      const states = await this.o.slots.refresh(account, list[0]!.limits, list.map((w) => w.claim.executionId));
      await Promise.all(list.map((w, i) => {
        if (states[i] === 'running') w.granted();
        return states[i] === 'gone' ? this.rejoin(w) : undefined;
      }));
    }));
  }

  /** A waiter dropped from its line (e.g. its renewal was late) joins it again while it may still start. */
  private async rejoin(w: Waiter): Promise<void> {
    const id = w.claim.executionId;
    if (this.waiters.get(id) !== w || w.claim.latestStart <= this.o.clock.now()) return;
    const state = await this.o.slots.enter(w.claim, w.limits);
    if (this.waiters.get(id) === w) {
      if (state === 'running') w.granted();
    } else if (state !== 'gone') {
      // It gave up meanwhile: whatever it just took goes back.
      await this.o.slots.leave(w.claim.account, w.claim.sessionId, id, w.limits);
    }
  }
}
