import { describe, expect, it } from 'vitest';
import { memoryReserveMb } from '../runner/container-spec.ts';
import { loadConfig } from '../core/config.ts';
import { newClient } from './support/harness.ts';

const MB = 1024 * 1024;
const RESERVE_MB = memoryReserveMb(loadConfig(process.env).SANDBOX_TMP_MB);

/** The memory limit is the session's `memory` (plus the fixed reserve); files never count. */
describe('memory limit', () => {
  it('OOM-kills a program allocating past `memory: 256` within seconds, and the session goes on with its files', async () => {
    const { client, cleanup } = await newClient('paid');
    try {
      const s = await client.sessions.create({ resourceLimits: { memory: 256 } });
      await s.execute({ command: 'echo kept > note.txt' });
      const started = Date.now();
      const r = await s.execute({ code: 'const a = []; while (true) a.push(new Array(1e6).fill(7));', timeout: 30 });
      const took = Date.now() - started;
      expect(r.status).toBe('oom');
      expect(r.timedOut).toBe(false);
      expect(took).toBeLessThan(5_000);
      expect(r.memoryUsed).toBeLessThanOrEqual((256 + RESERVE_MB) * MB);
      expect(r.memoryUsed).toBeGreaterThan(128 * MB);
      const after = await s.execute({ command: 'cat note.txt; echo alive' });
      expect(after.stdout).toBe('kept\nalive\n');
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('lets a program of the default plan allocate 900 MB next to a 900 MB file in /workspace', async () => {
    const { client, cleanup } = await newClient('free');
    try {
      const s = await client.sessions.create();
      expect(s.resourceLimits).toMatchObject({ memory: 1024, disk: 1024 });
      const w = await s.execute({ command: 'dd if=/dev/zero of=big bs=1M count=900 2>&1 && sync && ls -l big', timeout: 30 });
      expect(w.exitCode, w.stdout).toBe(0);
      expect(w.stdout).toContain(String(900 * MB));
      const r = await s.execute({
        code: 'const b = Buffer.alloc(900 * 1024 * 1024, 1); let sum = 0; for (let i = 0; i < b.length; i += 4096) sum += b[i]; console.log(sum);',
        timeout: 30,
      });
      expect(r.status, r.stderr).toBe('ok');
      expect(r.stdout).toBe(`${(900 * MB) / 4096}\n`);
      expect(r.memoryUsed).toBeGreaterThan(900 * MB);
      expect((await s.execute({ command: 'ls -l big' })).stdout).toContain(String(900 * MB));
    } finally {
      await cleanup();
    }
  }, 180_000);
});
