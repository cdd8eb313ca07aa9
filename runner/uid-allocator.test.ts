import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuntimeError } from '../core/errors.ts';
import { UidAllocator } from './uid-allocator.ts';

const run = promisify(execFile);
const MODULE = new URL('./uid-allocator.ts', import.meta.url).pathname;

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bt-uids-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('UidAllocator', () => {
  it('hands out uids in its range, each held by its owner until released', async () => {
    const uids = new UidAllocator({ dir });
    const a = { nodeId: 'n1', sessionId: 'ses_a' };
    const uid = await uids.allocate(a);
    expect(uid).toBeGreaterThanOrEqual(200_000);
    expect(uid).toBeLessThanOrEqual(999_999);
    expect(await uids.owner(uid)).toEqual(a);
    expect(await uids.held()).toEqual([{ uid, ...a }]);
    expect(await uids.release(uid, { nodeId: 'n1', sessionId: 'ses_other' })).toBe(false);
    expect(await uids.owner(uid)).toEqual(a);
    expect(await uids.release(uid, a)).toBe(true);
    expect(await uids.owner(uid)).toBeUndefined();
    expect(await uids.release(uid)).toBe(false);
  });

  it('gives a remounted workspace its uid back, never one another session holds', async () => {
    const uids = new UidAllocator({ dir });
    const a = { nodeId: 'n1', sessionId: 'ses_a' };
    const uid = await uids.allocate(a);
    expect(await uids.claim(uid, a)).toBe(true);
    expect(await uids.claim(uid, { nodeId: 'n2', sessionId: 'ses_b' })).toBe(false);
    await uids.release(uid);
    // Lost with the directory (or released by mistake): claiming takes it again.
    expect(await uids.claim(uid, a)).toBe(true);
    expect(await uids.owner(uid)).toEqual(a);
  });

  it('refuses with service_unavailable when the range is used up, and leaves no temp files', async () => {
    const uids = new UidAllocator({ dir, min: 300_000, max: 300_002 });
    const got = await Promise.all([0, 1, 2].map((i) => uids.allocate({ nodeId: 'n', sessionId: `s${i}` })));
    expect(new Set(got)).toEqual(new Set([300_000, 300_001, 300_002]));
    const err = await uids.allocate({ nodeId: 'n', sessionId: 's3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuntimeError);
    expect((err as BuntimeError).code).toBe('service_unavailable');
    expect((await readdir(dir)).sort()).toEqual(['300000', '300001', '300002']);
  });

  it('two deployments racing 500 allocations each in one process never share a uid', async () => {
    // A range of exactly 1000: every allocation has to find the one slot the others left.
    const range = { min: 400_000, max: 400_999 };
    const a = new UidAllocator({ dir, ...range });
    const b = new UidAllocator({ dir, ...range });
    const alloc = (u: UidAllocator, node: string) =>
      Promise.all(Array.from({ length: 500 }, (_, i) => u.allocate({ nodeId: node, sessionId: `ses_${i}` }).then((uid) => ({ uid, node, i }))));
    const [ra, rb] = await Promise.all([alloc(a, 'deploy-a'), alloc(b, 'deploy-b')]);
    const all = [...ra, ...rb];
    expect(new Set(all.map((r) => r.uid)).size).toBe(1000);
    for (const r of all.slice(0, 50)) expect(await a.owner(r.uid)).toEqual({ nodeId: r.node, sessionId: `ses_${r.i}` });
  });

  it('two deployments in two processes racing 500 allocations each never share a uid', async () => {
    const script = (node: string) => `
      import { UidAllocator } from ${JSON.stringify(MODULE)};
      const u = new UidAllocator({ dir: ${JSON.stringify(dir)}, min: 500000, max: 500999 });
      const got = await Promise.all(Array.from({ length: 500 }, (_, i) => u.allocate({ nodeId: '${node}', sessionId: 'ses_' + i })));
      process.stdout.write(JSON.stringify(got));`;
    const spawn = (node: string) =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(node)], { maxBuffer: 1 << 20 });
    const [pa, pb] = await Promise.all([spawn('deploy-a'), spawn('deploy-b')]);
    const uids = [...(JSON.parse(pa.stdout) as number[]), ...(JSON.parse(pb.stdout) as number[])];
    expect(uids).toHaveLength(1000);
    expect(new Set(uids).size).toBe(1000);
    const files = (await readdir(dir)).filter((n) => /^\d+$/.test(n));
    expect(files).toHaveLength(1000);
  }, 60_000);
});
