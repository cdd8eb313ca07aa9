import { describe, expect, it } from 'vitest';
import { lastUtcDays, splitByUtcDay, utcDay } from './usage.ts';

const at = (iso: string) => Date.parse(iso);

describe('usage days', () => {
  it('names the UTC day of an instant', () => {
    expect(utcDay(at('2026-03-01T23:59:59.999Z'))).toBe('2026-03-01');
    expect(utcDay(at('2026-03-02T00:00:00.000Z'))).toBe('2026-03-02');
  });

  it('lists the last n days oldest first, across a month end', () => {
    expect(lastUtcDays(3, at('2026-03-01T10:00:00Z'))).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(lastUtcDays(1, at('2026-03-01T00:00:00Z'))).toEqual(['2026-03-01']);
  });

  it('keeps an interval within one day whole', () => {
    expect(splitByUtcDay(at('2026-03-01T10:00:00Z'), at('2026-03-01T10:01:00Z'))).toEqual([{ date: '2026-03-01', ms: 60_000 }]);
  });

  it('splits an interval at each UTC midnight, losing nothing', () => {
    const start = at('2026-03-01T23:00:00Z');
    const end = at('2026-03-03T01:30:00Z');
    const parts = splitByUtcDay(start, end);
    expect(parts).toEqual([
      { date: '2026-03-01', ms: 3_600_000 },
      { date: '2026-03-02', ms: 86_400_000 },
      { date: '2026-03-03', ms: 5_400_000 },
    ]);
    expect(parts.reduce((n, p) => n + p.ms, 0)).toBe(end - start);
  });

  it('gives nothing for an empty or reversed interval', () => {
    expect(splitByUtcDay(1000, 1000)).toEqual([]);
    expect(splitByUtcDay(2000, 1000)).toEqual([]);
  });
});
