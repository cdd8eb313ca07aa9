import { describe, expect, it } from 'vitest';
import { BuntimeError } from '../core/errors.ts';
import { DiskBudget } from './disk-budget.ts';

describe('DiskBudget', () => {
  it('counts committed quotas and refuses what would pass the limit, with a retry hint', async () => {
    const budget = new DiskBudget(2048);
    budget.set('a', 1024);
    expect(await budget.hold(1024, async () => 'ok')).toBe('ok');
    const err = await budget.hold(1025, async () => 'no').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuntimeError);
    expect((err as BuntimeError).code).toBe('service_unavailable');
    expect((err as BuntimeError).retryAfterSec).toBeGreaterThan(0);
    expect((err as BuntimeError).details).toMatchObject({ reason: 'node_disk_budget', budgetMb: 2048, usedMb: 1024, requestedMb: 1025 });
    budget.delete('a');
    expect(budget.usedMb).toBe(0);
  });

  it('counts creates under way, so concurrent ones cannot both slip under the limit', async () => {
    const budget = new DiskBudget(1024);
    let finish!: () => void;
    const first = budget.hold(600, () => new Promise<void>((r) => { finish = r; }));
    await expect(budget.hold(600, async () => undefined)).rejects.toMatchObject({ code: 'service_unavailable' });
    finish();
    await first;
    expect(await budget.hold(600, async () => 'now it fits')).toBe('now it fits');
  });
});
