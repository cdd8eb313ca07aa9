import { describe, expect, it } from 'vitest';
import { inodeTarget } from '../runner/ext4-layout.ts';
import { ownService, useSession } from './support/harness.ts';

/** `disk` is a hard quota of /workspace: bytes and files, as the session's programs see it. */
describe('disk quota', () => {
  const s = useSession('paid', { resourceLimits: { disk: 64 } });
  const other = useSession('paid', { resourceLimits: { disk: 64 } });

  it('fits disk − 1 MB and refuses disk + 1 MB with ENOSPC', async () => {
    const fits = await s.client.execute({ sessionId: s.sessionId, command: 'dd if=/dev/zero of=f bs=1M count=63 2>&1 && sync && echo fits', timeout: 30 });
    expect(fits.stdout).toContain('fits');
    const over = await s.client.execute({
      sessionId: s.sessionId, command: 'rm f; sync; dd if=/dev/zero of=g bs=1M count=65 2>&1; echo "exit=$?"; rm -f g', timeout: 30,
    });
    expect(over.stdout).toMatch(/No space left on device/);
    expect(over.stdout).not.toContain('exit=0');
  }, 60_000);

  it('answers a file write past the quota with 507 disk_full and changes nothing', async () => {
    const { client, sessionId } = s;
    await client.files.write(sessionId, 'keep.bin', 'old content');
    await client.execute({ sessionId, command: 'dd if=/dev/zero of=filler bs=1M count=60 2>/dev/null; sync' });
    const before = (await client.files.list(sessionId)).files.map((f) => `${f.path}:${f.size}`);
    await expect(client.files.write(sessionId, 'keep.bin', new Uint8Array(8 * 1024 * 1024)))
      .rejects.toMatchObject({ status: 507, code: 'disk_full' });
    await expect(client.files.write(sessionId, 'new.bin', new Uint8Array(8 * 1024 * 1024)))
      .rejects.toMatchObject({ status: 507, code: 'disk_full' });
    expect((await client.files.list(sessionId)).files.map((f) => `${f.path}:${f.size}`)).toEqual(before);
    expect(await client.files.readText(sessionId, 'keep.bin')).toBe('old content');
    await client.execute({ sessionId, command: 'rm -f filler keep.bin' });
  }, 60_000);

  it('stops 200 000 empty files at the inode cap, and other sessions are not touched', async () => {
    const { client, sessionId } = s;
    const r = await client.execute({
      sessionId,
      code: `
        const fs = require('node:fs');
        fs.mkdirSync('many');
        let made = 0, error = '';
        for (; made < 200000; made++) {
          try { fs.closeSync(fs.openSync('many/' + made, 'w')); } catch (e) { error = e.code; break; }
        }
        console.log(made, error);
      `,
      timeout: 60,
    });
    const [made, error] = r.stdout.trim().split(' ');
    expect(error).toBe('ENOSPC');
    // ext4 keeps 10 inodes, the directory took one, the agent's barrier files of earlier runs a few.
    expect(Number(made)).toBeGreaterThanOrEqual(inodeTarget(64) - 16);
    expect(Number(made)).toBeLessThan(inodeTarget(64) + 1024);
    const df = await client.execute({ sessionId, command: 'df -i /workspace | tail -1' });
    expect(df.stdout.trim().split(/\s+/)[3]).toBe('0');

    // Another session of the same account (and the same node) makes files as before.
    const o = await other.client.execute({ sessionId: other.sessionId, command: 'mkdir d && cd d && seq 1 2000 | xargs touch && ls | wc -l' });
    expect(o.stdout.trim()).toBe('2000');
    // The full session recovers as soon as it deletes files.
    const again = await client.execute({ sessionId, command: 'rm -rf many && touch ok && ls', timeout: 60 });
    expect(again.stdout).toBe('ok\n');
  }, 120_000);
});

describe('the node disk budget', () => {
  it('refuses creates and forks past NODE_DISK_BUDGET_MB with 503 and Retry-After, and frees the slot', async () => {
    const service = await ownService('budget', { NODE_DISK_BUDGET_MB: '100', WARM_POOL_SIZE: '0' });
    const client = await service.client('paid');
    try {
      const first = await client.sessions.create({ resourceLimits: { disk: 64 } });
      const refused = { status: 503, code: 'service_unavailable', details: { reason: 'node_disk_budget', budgetMb: 100, usedMb: 64 } };
      const create = await client.sessions.create({ resourceLimits: { disk: 64 } }).then(() => undefined, (e: unknown) => e);
      expect(create).toMatchObject(refused);
      expect((create as { retryAfter?: number }).retryAfter).toBeGreaterThan(0);
      await expect(client.sessions.fork(first.id)).rejects.toMatchObject(refused);
      expect((await client.sessions.list()).total).toBe(1);
      // Within the budget it goes on; a delete gives its quota back.
      await client.sessions.create({ resourceLimits: { disk: 32 } });
      await client.sessions.delete(first.id);
      await client.sessions.create({ resourceLimits: { disk: 64 } });
    } finally {
      for (const x of (await client.sessions.list()).sessions) await client.sessions.delete(x.sessionId).catch(() => {});
      await service.stop();
    }
  }, 120_000);
});
