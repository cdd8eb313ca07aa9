import { describe, expect, it } from 'vitest';
import { useSession } from '../support/harness.ts';

/**
 * The CPU limit means what it says over time: sessions run with a 1 s CFS period (so a short
 * program's start-up is never cut into slices), and a program that spins for 22 s averages no
 * more than its share plus one period's worth.
 */
const s = useSession('free');

describe('cpu share', () => {
  it('holds a busy loop to the plan\'s 0.25 cores over 22 s (≤ quota + one period)', async () => {
    const r = await s.client.execute({
      sessionId: s.sessionId, timeout: 30,
      code: 'const end = Date.now() + 22_000; let n = 0; while (Date.now() < end) n++; console.log(n > 0);',
    });
    expect(r.status).toBe('ok');
    const share = r.cpuTime / r.executionTime;
    // 0.25 of each 1 s period, plus at most one period of slack over the run.
    expect(share).toBeLessThanOrEqual(0.25 + 1_000 / r.executionTime);
    expect(share).toBeGreaterThan(0.15);
  }, 60_000);
});
