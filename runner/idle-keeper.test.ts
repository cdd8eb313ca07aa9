import { describe, expect, it } from 'vitest';
import { createLogger } from '../core/logger.ts';
import type { SessionState, SessionStore } from '../core/session-store.ts';
import { IdleKeeper } from './idle-keeper.ts';
import type { SandboxDriver } from './sandbox-driver.ts';

/** Records what the keeper asks of the engine and the store, in order; transitions take `ms`. */
function harness(ms = 20) {
  const calls: string[] = [];
  const later = (what: string) => new Promise<void>((r) => setTimeout(() => { calls.push(what); r(); }, ms));
  const driver = { pause: () => later('pause'), unpause: () => later('unpause') } as unknown as SandboxDriver;
  const store = { setState: async (_id: string, s: SessionState) => { calls.push(`state ${s}`); } } as unknown as SessionStore;
  const keeper = new IdleKeeper({
    driver, store, containerOf: async () => 'c1', idleAfterMs: 100, sleepAfterMs: 200,
    deepSleep: () => later('deep sleep'), log: createLogger('silent'),
  });
  return { keeper, calls };
}

describe('IdleKeeper', () => {
  it('pauses after idleAfter, sends to deep sleep after sleepAfter, and wakes on use', async () => {
    const { keeper, calls } = harness();
    keeper.track('s');
    const t0 = Date.now();
    expect(await keeper.sweep(t0 + 50)).toBe(0);
    expect(await keeper.sweep(t0 + 150)).toBe(1);
    expect(calls).toEqual(['pause', 'state idle']);
    await keeper.use('s', async () => { calls.push('job'); });
    expect(calls.slice(2)).toEqual(['unpause', 'state active', 'job']);
    expect(await keeper.sweep(Date.now() + 150)).toBe(1);
    expect(await keeper.sweep(Date.now() + 250)).toBe(1);
    expect(calls.slice(5)).toEqual(['pause', 'state idle', 'deep sleep']);
    // Asleep: a use goes straight to the job (the host revives the sandbox), nothing to thaw.
    await keeper.use('s', async () => { calls.push('job'); });
    expect(calls.slice(8)).toEqual(['job']);
  });

  it('never starts a transition while a job runs, and a job waits for one under way', async () => {
    const { keeper, calls } = harness(50);
    keeper.track('s');
    let release!: () => void;
    const job = keeper.use('s', () => new Promise<void>((r) => { release = () => { calls.push('job done'); r(); }; }));
    await new Promise((r) => setTimeout(r, 5));
    expect(await keeper.sweep(Date.now() + 1_000)).toBe(0);
    release();
    await job;
    const sweeping = keeper.sweep(Date.now() + 150);
    await new Promise((r) => setTimeout(r, 5));
    await keeper.use('s', async () => { calls.push('second job'); });
    await sweeping;
    expect(calls).toEqual(['job done', 'pause', 'state idle', 'unpause', 'state active', 'second job']);
  });
});
