import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedLock', () => {
  it('runs tasks of one key in call order, one at a time, and other keys alongside', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => { log.push(`${name}+`); await tick(ms); log.push(`${name}-`); };
    await Promise.all([
      lock.run(['a'], task('a1', 30)),
      lock.run(['a'], task('a2', 1)),
      lock.run(['b'], task('b1', 1)),
    ]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b1-')).toBeLessThan(log.indexOf('a1-'));
  });

  it('makes a two-key task wait for both keys, and a failure does not block the next task', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const failing = lock.run(['a'], async () => { await tick(20); log.push('a'); throw new Error('boom'); });
    const both = lock.run(['b', 'a'], async () => { log.push('ab'); return 7; });
    await expect(failing).rejects.toThrow('boom');
    expect(await both).toBe(7);
    expect(log).toEqual(['a', 'ab']);
  });
});
