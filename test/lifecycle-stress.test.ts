import { describe, expect, it } from 'vitest';
import { ownService } from './support/harness.ts';

/**
 * Requests at random intervals around IDLE_AFTER and SLEEP_AFTER, so sessions keep pausing,
 * sleeping and waking while requests arrive: no request may fail and no write may be lost.
 */
describe('lifecycle stress', () => {
  it('never loses a file or a request while sessions pause, sleep and wake', async () => {
    const service = await ownService('stress', { IDLE_AFTER: '1', SLEEP_AFTER: '2', WARM_POOL_SIZE: '1' });
    const client = await service.client('paid');
    const errors: string[] = [];
    try {
      const sessions = await Promise.all(Array.from({ length: 4 }, () => client.sessions.create()));
      const until = Date.now() + 30_000;
      await Promise.all(sessions.map(async (s, n) => {
        let i = 0;
        while (Date.now() < until) {
          i++;
          try {
            const r = await client.execute({ sessionId: s.id, command: `echo ${i} >> log.txt; wc -l < log.txt` });
            if (r.stdout.trim() !== String(i)) errors.push(`session ${n} step ${i}: ${JSON.stringify(r.stdout)} ${r.stderr}`);
            if (i % 3 === 0) await client.sessions.get(s.id);
          } catch (err) {
            errors.push(`session ${n} step ${i}: ${(err as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, Math.random() * 3500));
        }
      }));
      expect(errors).toEqual([]);
    } finally {
      for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      await service.stop();
    }
  }, 90_000);
});
