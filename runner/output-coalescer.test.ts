import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_DELAY_MS, MIN_ENTRY_BYTES, OutputCoalescer, type OutputStream } from './output-coalescer.ts';

describe('OutputCoalescer', () => {
  let written: Array<[OutputStream, string]>;
  let c: OutputCoalescer;
  beforeEach(() => {
    vi.useFakeTimers();
    written = [];
    c = new OutputCoalescer((s, d) => written.push([s, d]));
  });
  afterEach(() => vi.useRealTimers());

  it('holds small writes until 20 ms after the first one', () => {
    c.push('stdout', 'a');
    c.push('stdout', 'b');
    vi.advanceTimersByTime(MAX_DELAY_MS - 1);
    expect(written).toEqual([]);
    c.push('stdout', 'c');
    vi.advanceTimersByTime(1);
    expect(written).toEqual([['stdout', 'abc']]);
  });

  it('writes at once when 4 KiB are held', () => {
    c.push('stdout', 'x'.repeat(MIN_ENTRY_BYTES - 1));
    expect(written).toEqual([]);
    c.push('stdout', '€');
    expect(written).toHaveLength(1);
    expect(written[0]![1]).toHaveLength(MIN_ENTRY_BYTES);
  });

  it('keeps stdout and stderr apart, each in order', () => {
    c.push('stdout', '1');
    c.push('stderr', 'a');
    c.push('stdout', '2');
    c.push('stderr', 'b');
    c.close();
    expect(written).toEqual([['stdout', '12'], ['stderr', 'ab']]);
    vi.advanceTimersByTime(100);
    expect(written).toHaveLength(2);
  });

  it('makes at most bytes/4 KiB + T/20 ms + 1 entries from 200,000 one-byte writes', () => {
    const spanMs = 2_000;
    for (let i = 0; i < 200_000; i++) {
      c.push('stdout', 'x');
      if (i % 100 === 99) vi.advanceTimersByTime(1);
    }
    c.close();
    const total = written.reduce((n, [, d]) => n + d.length, 0);
    expect(total).toBe(200_000);
    expect(written.length).toBeLessThanOrEqual(200_000 / MIN_ENTRY_BYTES + spanMs / MAX_DELAY_MS + 1);
  });
});
