import { execFile } from 'node:child_process';
import { access, mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuntimeError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { BLOCKS_PER_MB, inodeTarget, TOLERANCE_BLOCKS } from '../runner/ext4-layout.ts';
import { readMounts } from '../runner/mountinfo.ts';
import { WorkspaceStore } from '../runner/workspace-store.ts';
import { SANDBOX_IMAGE } from './support/agent-harness.ts';

/**
 * Disk-backed workspaces on real loop devices (needs root, no API): quotas as a program sees
 * them inside a container, persistence across unmounts, copies, snapshots, cleanup on failure.
 */

const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
const UID_A = 201_001;
const UID_B = 201_002;

/** Runs `script` with busybox sh as `uid` in a throwaway container, the workspace at /workspace. */
function sandbox(mountPoint: string, uid: number, script: string): Promise<{ code: number; out: string }> {
  const args = [
    'run', '--rm', '--network', 'none', '--label', 'buntime.test=workspace-store', '--user', `${uid}:${uid}`,
    '-v', `${mountPoint}:/workspace`, '--workdir', '/workspace', '--entrypoint', '/bin/sh', SANDBOX_IMAGE, '-c', script,
  ];
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 16 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (code === -1 || code === 125) return reject(new Error(`docker run failed: ${stderr}`));
      resolve({ code, out: stdout + stderr });
    });
  });
}

function host(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr}`)) : resolve(stdout)));
  });
}

/** Loop devices whose backing file lies under `dir`. */
async function loopsUnder(dir: string): Promise<string[]> {
  const out = await host('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return out.split('\n').filter((l) => l.includes(`${dir}/`));
}

async function mountsUnder(dir: string): Promise<string[]> {
  return (await readMounts()).map((m) => m.mountPoint).filter((p) => p.startsWith(`${dir}/`));
}

/** A store on a fresh temp directory, removed (every workspace unmounted and detached) after. */
async function withStore<T>(fn: (store: WorkspaceStore, dir: string) => Promise<T>, opts: { budgetMb?: number } = {}): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bt-ws-'));
  const store = new WorkspaceStore({ dir, log, ...opts });
  try {
    return await fn(store, dir);
  } finally {
    for (const id of await store.list().catch(() => [])) await store.remove(id).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/** Polls `check` every 100 ms until it holds; fails after `ms`. */
async function waitFor(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function errorOf(p: Promise<unknown>): Promise<BuntimeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BuntimeError);
  return err as BuntimeError;
}

describe('WorkspaceStore', () => {
  it.each([16, 64, 1024, 5120])('gives programs exactly the quota of %i MB, and 256 inodes per MB', async (diskMb) => {
    await withStore(async (store) => {
      const mp = await store.create('ses_quota', { diskMb, uid: UID_A });
      const st = await statfs(mp);
      expect(st.bsize).toBe(4096);
      expect(st.bavail - diskMb * BLOCKS_PER_MB).toBeGreaterThanOrEqual(0);
      expect(st.bavail - diskMb * BLOCKS_PER_MB).toBeLessThanOrEqual(TOLERANCE_BLOCKS);
      expect(st.files).toBeGreaterThanOrEqual(inodeTarget(diskMb));
      if (diskMb === 1024) expect(st.ffree).toBeGreaterThanOrEqual(200_000);
      const meta = await store.meta('ses_quota');
      expect(meta).toMatchObject({ sessionId: 'ses_quota', uid: UID_A, diskMb, inodes: st.files });
      const root = await sandbox(mp, UID_A, 'stat -c "%u %a" /workspace; ls -A /workspace | wc -l');
      expect(root.out.trim().split('\n')).toEqual([`${UID_A} 755`, '0']);
    });
  }, 120_000);

  it.each([16, 64, 1024])('lets the session uid write %i MB − 1 MB and stops it with ENOSPC at + 1 MB', async (diskMb) => {
    await withStore(async (store) => {
      const mp = await store.create('ses_fill', { diskMb, uid: UID_A });
      const fits = await sandbox(mp, UID_A, `dd if=/dev/zero of=f bs=1M count=${diskMb - 1} 2>&1 && sync && ls -l f`);
      expect(fits.code, fits.out).toBe(0);
      const over = await sandbox(mp, UID_A, `rm f; sync; dd if=/dev/zero of=g bs=1M count=${diskMb + 1} 2>&1`);
      expect(over.code).not.toBe(0);
      expect(over.out).toMatch(/No space left on device/);
    });
  }, 240_000);

  it('stops file creation at the inode cap', async () => {
    await withStore(async (store) => {
      const mp = await store.create('ses_inodes', { diskMb: 16, uid: UID_A });
      const free = (await statfs(mp)).ffree;
      expect(free).toBe(inodeTarget(16) - 10);
      const r = await sandbox(mp, UID_A, 'mkdir d && cd d && seq 1 5000 | xargs touch 2>/tmp/err; ls | wc -l; head -c 300 /tmp/err');
      const [count, ...err] = r.out.trim().split('\n');
      // The directory `d` took one inode.
      expect(Number(count)).toBe(free - 1);
      expect(err.join('\n')).toMatch(/No space left on device/);
    });
  }, 120_000);

  it('keeps files across unmount (loop device detached) and mount, also from a new store on the same directory', async () => {
    await withStore(async (store, dir) => {
      const mp = await store.create('ses_keep', { diskMb: 64, uid: UID_A });
      const write = 'mkdir -p a/b && head -c 5000000 /dev/urandom > a/b/big && echo hi > small && ln -s small link && sha256sum a/b/big small';
      const before = await sandbox(mp, UID_A, write);
      expect(before.code, before.out).toBe(0);
      await store.unmount('ses_keep');
      expect(await loopsUnder(dir)).toEqual([]);
      expect(await mountsUnder(dir)).toEqual([]);

      // A runner restart: another store instance finds the image and its uid.
      const again = new WorkspaceStore({ dir, log });
      expect((await again.meta('ses_keep'))?.uid).toBe(UID_A);
      expect(await again.mount('ses_keep')).toBe(mp);
      expect(await again.mount('ses_keep')).toBe(mp);
      expect(await loopsUnder(dir)).toHaveLength(1);
      const after = await sandbox(mp, UID_A, 'sha256sum a/b/big small; readlink link; stat -c %u a/b/big');
      expect(after.out).toContain(before.out.trim());
      expect(after.out).toMatch(new RegExp(`small\\n${UID_A}\\n?$`));
    });
  }, 120_000);

  it('reuses a loop device left attached to the image instead of attaching a second one', async () => {
    await withStore(async (store, dir) => {
      await store.create('ses_loop', { diskMb: 16, uid: UID_A });
      await store.unmount('ses_loop');
      const device = (await host('losetup', ['--find', '--show', join(dir, 'ses_loop.img')])).trim();
      try {
        await store.mount('ses_loop');
        const loops = await loopsUnder(dir);
        expect(loops).toHaveLength(1);
        expect(loops[0]).toContain(device);
      } finally {
        await store.unmount('ses_loop');
        await host('losetup', ['--detach', device]).catch(() => undefined);
      }
    });
  }, 60_000);

  it('unmounted under a running container: the container keeps its files, and a copy still freezes them', async () => {
    await withStore(async (store, dir) => {
      const mp = await store.create('ses_held', { diskMb: 16, uid: UID_A });
      const cid = (await host('docker', [
        'run', '-d', '--rm', '--network', 'none', '--label', 'buntime.test=workspace-store', '--user', `${UID_A}:${UID_A}`,
        '-v', `${mp}:/workspace`, '--entrypoint', '/bin/sh', SANDBOX_IMAGE, '-c',
        'echo before > /workspace/b; while [ ! -e /workspace/go ]; do sleep 0.1; done; echo after > /workspace/a; sleep 600',
      ])).trim();
      try {
        await waitFor(() => exists(join(mp, 'b')));
        await store.unmount('ses_held');
        expect(await mountsUnder(dir)).toEqual([]);
        // The container still has the filesystem: its loop device stays until the container goes.
        expect(await loopsUnder(dir)).toHaveLength(1);
        const copy = await store.copy('ses_held', 'ses_copy', { uid: UID_B });
        expect((await sandbox(copy, UID_B, 'cat b')).out).toBe('before\n');
        await store.remove('ses_copy');
        // Still the container's filesystem after the copy: it can write on, and we see it later.
        const again = await store.mount('ses_held');
        await host('touch', [join(again, 'go')]);
        await waitFor(() => exists(join(again, 'a')));
        await store.unmount('ses_held');
      } finally {
        await host('docker', ['rm', '-f', cid]).catch(() => undefined);
      }
      await waitFor(async () => (await loopsUnder(dir)).length === 0);
      const back = await store.mount('ses_held');
      expect((await sandbox(back, UID_A, 'cat b a')).out).toBe('before\nafter\n');
    });
  }, 120_000);

  it('copies a live workspace into an independent one for another uid, its files to be re-owned by the agent', async () => {
    await withStore(async (store) => {
      const src = await store.create('ses_src', { diskMb: 64, uid: UID_A });
      await sandbox(src, UID_A, 'mkdir sub && echo one > sub/x && head -c 1000000 /dev/urandom > r');
      const dst = await store.copy('ses_src', 'ses_dst', { uid: UID_B });
      // The host never walks the copy: its files keep their owner until the agent re-owns them.
      expect((await store.meta('ses_dst'))).toMatchObject({ uid: UID_B, reownFrom: UID_A, diskMb: 64, copiedFrom: 'ses_src' });
      const [a, b] = await Promise.all([
        sandbox(src, UID_A, 'sha256sum r sub/x'),
        sandbox(dst, UID_A, 'sha256sum r sub/x; stat -c %u . sub sub/x r'),
      ]);
      expect(b.out).toContain(a.out.trim());
      expect(b.out).toContain(`${UID_A}\n${UID_A}\n${UID_A}\n${UID_A}`);
      await store.adopted('ses_dst');
      expect((await store.meta('ses_dst'))?.reownFrom).toBeUndefined();

      await sandbox(src, UID_A, 'echo changed > sub/x && echo new > only-src');
      await sandbox(dst, UID_A, 'echo other > only-dst');
      const seenBySrc = await sandbox(src, UID_A, 'cat sub/x; ls');
      const seenByDst = await sandbox(dst, UID_A, 'cat sub/x; ls');
      expect(seenBySrc.out).toBe('changed\nonly-src\nr\nsub\n');
      expect(seenByDst.out).toBe('one\nonly-dst\nr\nsub\n');
      expect(await store.usage()).toBe(128);
    });
  }, 120_000);

  it('hands a workspace to another uid (its own was taken), the files to be re-owned by the agent', async () => {
    await withStore(async (store) => {
      await store.create('ses_moved', { diskMb: 16, uid: UID_A });
      expect(await store.reassign('ses_moved', UID_B)).toMatchObject({ uid: UID_B, reownFrom: UID_A });
      // Moved again before the agent got to it: the files still carry the first owner.
      expect(await store.reassign('ses_moved', UID_B + 1)).toMatchObject({ uid: UID_B + 1, reownFrom: UID_A });
      await store.adopted('ses_moved');
      expect(await store.meta('ses_moved')).toMatchObject({ uid: UID_B + 1 });
      expect((await store.meta('ses_moved'))?.reownFrom).toBeUndefined();
    });
  }, 60_000);

  it('exports a snapshot and imports it as another session with another uid', async () => {
    const snaps = await mkdtemp(join(tmpdir(), 'bt-snaps-'));
    try {
      await withStore(async (store) => {
        const src = await store.create('ses_exp', { diskMb: 16, uid: UID_A });
        await sandbox(src, UID_A, 'echo kept > k');
        await store.exportTo('ses_exp', join(snaps, 'snap1'));
        await store.remove('ses_exp');
        const dst = await store.importFrom(join(snaps, 'snap1'), 'ses_imp', { uid: UID_B });
        expect(await store.meta('ses_imp')).toMatchObject({ uid: UID_B, reownFrom: UID_A });
        const r = await sandbox(dst, UID_A, 'cat k; stat -c %u k; echo more > m');
        expect(r.out).toBe(`kept\n${UID_A}\n`);
        expect((await readdir(snaps)).sort()).toEqual(['snap1', 'snap1.json']);
      });
    } finally {
      await rm(snaps, { recursive: true, force: true });
    }
  }, 120_000);

  it('removes everything: no loop device, no mount, no file', async () => {
    await withStore(async (store, dir) => {
      await store.create('ses_gone', { diskMb: 16, uid: UID_A });
      await store.remove('ses_gone');
      await store.remove('ses_gone');
      expect(await loopsUnder(dir)).toEqual([]);
      expect(await mountsUnder(dir)).toEqual([]);
      expect(await readdir(dir)).toEqual(['mnt']);
      expect(await readdir(join(dir, 'mnt'))).toEqual([]);
      expect(await store.list()).toEqual([]);
      expect((await errorOf(store.mount('ses_gone'))).code).toBe('not_found');
      // Metadata without its image (deleted by hand, a disk replaced): reported lost, not remade.
      await store.create('ses_lost', { diskMb: 16, uid: UID_A });
      await store.unmount('ses_lost');
      await rm(join(dir, 'ses_lost.img'));
      expect((await errorOf(store.mount('ses_lost'))).details).toMatchObject({ reason: 'workspace_missing' });
    });
  }, 60_000);

  it('refuses creates past the disk budget with service_unavailable and a retry hint', async () => {
    await withStore(async (store) => {
      await store.create('ses_b1', { diskMb: 64, uid: UID_A });
      const err = await errorOf(store.create('ses_b2', { diskMb: 64, uid: UID_B }));
      expect(err.code).toBe('service_unavailable');
      expect(err.retryAfterSec).toBeGreaterThan(0);
      expect(err.details).toMatchObject({ reason: 'node_disk_budget', budgetMb: 100, usedMb: 64 });
      await store.remove('ses_b1');
      await store.create('ses_b2', { diskMb: 64, uid: UID_B });
      expect(await store.usage()).toBe(64);
    }, { budgetMb: 100 });
  }, 60_000);

  it('leaves nothing behind when the host disk is full (mkfs fails on a tiny tmpfs)', async () => {
    await onTinyTmpfs('16k', async (store, dir) => {
      const err = await errorOf(store.create('ses_full', { diskMb: 64, uid: UID_A }));
      expect(err.code).toBe('service_unavailable');
      expect(err.details).toMatchObject({ reason: 'node_disk_full', op: 'create' });
      expect(await readdir(dir)).toEqual(['mnt']);
      expect(await readdir(join(dir, 'mnt'))).toEqual([]);
      expect(await loopsUnder(dir)).toEqual([]);
      expect(await store.list()).toEqual([]);
    });
  }, 60_000);

  it('drops a copy that hits ENOSPC on the host and thaws its source', async () => {
    await onTinyTmpfs('1m', async (store, dir) => {
      const src = await store.create('ses_src', { diskMb: 16, uid: UID_A });
      expect((await sandbox(src, UID_A, 'head -c 600000 /dev/urandom > r && sync')).code).toBe(0);
      const err = await errorOf(store.copy('ses_src', 'ses_dst', { uid: UID_B }));
      expect(err.code).toBe('service_unavailable');
      expect(err.details).toMatchObject({ reason: 'node_disk_full', op: 'copy' });
      expect((await readdir(dir)).sort()).toEqual(['mnt', 'ses_src.img', 'ses_src.json']);
      expect(await readdir(join(dir, 'mnt'))).toEqual(['ses_src']);
      // Not left frozen: a writer gets through at once.
      const w = await sandbox(src, UID_A, 'timeout 10 sh -c "echo after > a" && cat a');
      expect(w.out).toBe('after\n');
      expect(await store.usage()).toBe(16);
    });
  }, 60_000);
});

/** A store whose directory is a tmpfs of `size`: a host disk that fills up at once. */
async function onTinyTmpfs(size: string, fn: (store: WorkspaceStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bt-ws-full-'));
  await host('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  const store = new WorkspaceStore({ dir, log, budgetMb: 10_000 });
  try {
    await fn(store, dir);
  } finally {
    for (const id of await store.list().catch(() => [])) await store.remove(id).catch(() => undefined);
    await host('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
}
