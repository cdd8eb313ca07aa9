import { mkdir, readdir, realpath, rename, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DiskBudget } from './disk-budget.ts';
import { HostCommands } from './host-command.ts';
import { KeyedLock } from './keyed-lock.ts';
import { LoopMounts } from './loop-mount.ts';
import { readMounts } from './mountinfo.ts';
import { storageError } from './storage-error.ts';
import { WorkspaceImages } from './workspace-image.ts';
import { readMeta, writeMeta, type WorkspaceMeta } from './workspace-meta.ts';

export interface WorkspaceStoreOptions {
  /** Images (`<id>.img`), their metadata (`<id>.json`) and mountpoints (`mnt/<id>`); WORKSPACE_DIR. */
  dir: string;
  log: Logger;
  /**
   * Most quota (MB) the images here may add up to (NODE_DISK_BUDGET_MB); creates past it are
   * refused. 0 or absent: 90 % of the size of the filesystem holding `dir`.
   */
  budgetMb?: number;
  /** Attach loop devices with direct I/O on the image (pages cached once, not twice). Default true. */
  directIo?: boolean;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Disk-backed session workspaces: one sparse ext4 image per session, loop-mounted on the host
 * and bind-mounted into the session's container at /workspace. Files live on disk (no host RAM
 * pinned), the quota is exact (`f_bavail` = disk, ENOSPC past it, inode cap too), and a
 * workspace outlives its container and the runner: its metadata keeps the uid for a remount.
 *
 * All work on one session's image is serialised; one store per directory (one runner) is
 * assumed. Host storage failures come out as `service_unavailable` with a retry hint.
 */
export class WorkspaceStore {
  private readonly log: Logger;
  private readonly cmd: HostCommands;
  private readonly images: WorkspaceImages;
  private readonly lock = new KeyedLock();
  private dir: string;
  private budget = new DiskBudget(0);
  private started: Promise<void> | undefined;

  constructor(private readonly opts: WorkspaceStoreOptions) {
    this.log = opts.log;
    this.dir = opts.dir;
    this.cmd = new HostCommands(opts.log);
    this.images = new WorkspaceImages(this.cmd, new LoopMounts(this.cmd, opts.directIo ?? true), opts.log);
  }

  /**
   * Prepares the directory (idempotent; every method calls it): removes what a crash left
   * half-made, thaws any workspace left frozen, and loads the quotas of the images here.
   */
  start(): Promise<void> {
    this.started ??= this.init().catch((err: unknown) => {
      this.started = undefined;
      throw storageError(err, 'start');
    });
    return this.started;
  }

  /** Makes a workspace of `diskMb` owned by `uid` and mounts it; its mountpoint. Idempotent. */
  async create(sessionId: string, o: { diskMb: number; uid: number }): Promise<string> {
    checkId(sessionId);
    checkQuota(o.diskMb, o.uid);
    await this.start();
    return this.locked('create', [sessionId], async () => {
      const existing = await readMeta(this.metaPath(sessionId));
      if (existing) return this.createdAlready(existing, o);
      return this.budget.hold(o.diskMb, () => this.commit(sessionId, async () => {
        const made = await this.images.format(this.imagePath(sessionId), this.mountPoint(sessionId), o.diskMb, o.uid);
        return { version: 1, sessionId, uid: o.uid, diskMb: o.diskMb, ...made, createdAt: new Date().toISOString() };
      }));
    });
  }

  /** Mounts an existing workspace (after a restart, a reboot, an unmount); its mountpoint. */
  async mount(sessionId: string): Promise<string> {
    checkId(sessionId);
    await this.start();
    return this.locked('mount', [sessionId], async () => {
      await this.requireMeta(sessionId);
      await this.images.mount(this.imagePath(sessionId), this.mountPoint(sessionId));
      return this.mountPoint(sessionId);
    });
  }

  /**
   * Unmounts a workspace and detaches its loop device; the image stays. Call it once the
   * session's container is gone: a container still holds the filesystem in its own mount
   * namespace, and the loop device then goes only when the container does.
   */
  async unmount(sessionId: string): Promise<void> {
    checkId(sessionId);
    await this.start();
    await this.locked('unmount', [sessionId], () => this.release(sessionId));
  }

  /** Unmounts and deletes a workspace, image and metadata; an absent one is fine. */
  async remove(sessionId: string): Promise<void> {
    checkId(sessionId);
    await this.start();
    await this.locked('remove', [sessionId], async () => {
      await this.discard(sessionId);
      this.budget.delete(sessionId);
    });
  }

  /**
   * Copies workspace `srcId` (live or not) into a new workspace `dstId` whose files belong to
   * `uid`, and mounts it; its mountpoint. A live source is frozen for the copy: its writers
   * block until the copy is done.
   */
  async copy(srcId: string, dstId: string, o: { uid: number }): Promise<string> {
    checkId(srcId);
    checkId(dstId);
    await this.start();
    return this.locked('copy', [srcId, dstId], async () => {
      const src = await this.requireMeta(srcId);
      await this.requireAbsent(dstId);
      return this.budget.hold(src.diskMb, () => this.commit(dstId, async () => {
        await this.copyOut(srcId, `${this.imagePath(dstId)}.part`);
        return this.adopt(dstId, src, o.uid, srcId);
      }));
    });
  }

  /** Exports a workspace (live or not) as a snapshot: `file` (sparse image) and `file.json`. */
  async exportTo(sessionId: string, file: string): Promise<void> {
    checkId(sessionId);
    await this.start();
    await this.locked('export', [sessionId], async () => {
      const meta = await this.requireMeta(sessionId);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await this.copyOut(sessionId, `${file}.part`);
      await rename(`${file}.part`, file);
      await writeMeta(`${file}.json`, meta);
    }, async () => rm(`${file}.part`, { force: true }));
  }

  /** Makes workspace `sessionId` from a snapshot `exportTo` wrote, files owned by `uid`; mounted. */
  async importFrom(file: string, sessionId: string, o: { uid: number }): Promise<string> {
    checkId(sessionId);
    await this.start();
    return this.locked('import', [sessionId], async () => {
      const snap = await readMeta(`${file}.json`);
      if (!snap) throw new BuntimeError('not_found', 'no such snapshot', { details: { reason: 'snapshot_missing' } });
      await this.requireAbsent(sessionId);
      return this.budget.hold(snap.diskMb, () => this.commit(sessionId, async () => {
        await this.images.copy(file, `${this.imagePath(sessionId)}.part`);
        return this.adopt(sessionId, snap, o.uid, file);
      }));
    });
  }

  /** Ids of the sessions with a workspace here (for the janitor). */
  async list(): Promise<string[]> {
    await this.start();
    return this.committedIds();
  }

  /** A workspace's metadata, or undefined when there is none here. */
  async meta(sessionId: string): Promise<WorkspaceMeta | undefined> {
    checkId(sessionId);
    await this.start();
    return readMeta(this.metaPath(sessionId));
  }

  /** Sum of the quotas of the workspaces here, MB. */
  async usage(): Promise<number> {
    await this.start();
    return this.budget.usedMb;
  }

  /** The disk budget in force, MB (configured, or derived from the filesystem at start). */
  async budgetMb(): Promise<number> {
    await this.start();
    return this.budget.limitMb;
  }

  /** Recent cost of each host tool, ms (p50/p95). */
  timings(): Record<string, { count: number; p50Ms: number; p95Ms: number }> {
    return this.cmd.timings.summary();
  }

  /** Where a workspace is mounted on the host (the bind-mount source for /workspace). */
  mountPoint(sessionId: string): string {
    return join(this.dir, 'mnt', sessionId);
  }

  private async init(): Promise<void> {
    await mkdir(join(this.opts.dir, 'mnt'), { recursive: true, mode: 0o700 });
    // losetup and sysfs report backing files by their real path: compare like with like.
    this.dir = await realpath(this.opts.dir);
    this.budget = new DiskBudget(this.opts.budgetMb || (await this.autoBudget()));
    await this.thawAll();
    const names = await readdir(this.dir);
    for (const name of names) await this.sweep(name, names);
    for (const id of await this.committedIds()) {
      const meta = await readMeta(this.metaPath(id));
      if (meta) this.budget.set(id, meta.diskMb);
    }
  }

  private async committedIds(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((id) => ID.test(id));
  }

  private async autoBudget(): Promise<number> {
    const st = await statfs(this.dir);
    return Math.floor((st.blocks * st.bsize * 0.9) / (1024 * 1024));
  }

  /** Removes what a crash left: partial copies, temp files, images never committed. */
  private async sweep(name: string, names: readonly string[]): Promise<void> {
    if (name.endsWith('.part') || name.endsWith('.tmp')) {
      await rm(join(this.dir, name), { force: true });
    } else if (name.endsWith('.img') && !names.includes(`${name.slice(0, -4)}.json`)) {
      const id = name.slice(0, -4);
      if (!ID.test(id)) return;
      this.log.warn({ sessionId: id }, 'removing a workspace image whose create never finished');
      await this.discard(id);
    }
  }

  /** A runner that died between fsfreeze -f and -u leaves a frozen workspace: thaw it. */
  private async thawAll(): Promise<void> {
    const prefix = `${join(this.dir, 'mnt')}/`;
    for (const m of await readMounts()) {
      if (!m.mountPoint.startsWith(prefix) || m.fsType !== 'ext4') continue;
      await this.cmd.run('fsfreeze', ['--unfreeze', m.mountPoint]).catch(() => undefined);
    }
  }

  /** Runs `task` under the session locks; failures come out mapped; `cleanup` runs on failure. */
  private locked<T>(op: string, ids: string[], task: () => Promise<T>, cleanup?: () => Promise<unknown>): Promise<T> {
    const started = performance.now();
    return this.lock.run(ids, async () => {
      try {
        const out = await task();
        this.cmd.timings.record(`store.${op}`, performance.now() - started);
        return out;
      } catch (err) {
        await cleanup?.().catch(() => undefined);
        throw storageError(err, op);
      }
    });
  }

  /**
   * Makes workspace `id` with `make` (which leaves it mounted) and commits it by writing its
   * metadata; on any failure everything of `id` is removed again.
   */
  private async commit(id: string, make: () => Promise<WorkspaceMeta>): Promise<string> {
    try {
      const meta = await make();
      await writeMeta(this.metaPath(id), meta);
      this.budget.set(id, meta.diskMb);
      this.log.info({ sessionId: id, diskMb: meta.diskMb, uid: meta.uid }, 'workspace ready');
      return this.mountPoint(id);
    } catch (err) {
      await this.discard(id).catch((e: unknown) => this.log.error({ err: e, sessionId: id }, 'cleanup failed'));
      throw err;
    }
  }

  /** Copies a workspace's image to `to`, under fsfreeze when it is mounted. */
  private async copyOut(id: string, to: string): Promise<void> {
    const mounted = await this.isMounted(id);
    const frozenMs = await this.images.copy(this.imagePath(id), to, mounted ? this.mountPoint(id) : undefined);
    if (mounted) this.log.info({ sessionId: id, frozenMs: Math.round(frozenMs) }, 'workspace copied under fsfreeze');
  }

  /** Turns the copied `<id>.img.part` into workspace `id`, mounted, files owned by `uid`. */
  private async adopt(id: string, from: WorkspaceMeta, uid: number, copiedFrom: string): Promise<WorkspaceMeta> {
    await rename(`${this.imagePath(id)}.part`, this.imagePath(id));
    await this.images.mount(this.imagePath(id), this.mountPoint(id));
    if (uid !== from.uid) await this.images.reown(this.mountPoint(id), from.uid, uid);
    return { ...from, sessionId: id, uid, createdAt: new Date().toISOString(), copiedFrom };
  }

  private async isMounted(id: string): Promise<boolean> {
    const prefix = this.mountPoint(id);
    return (await readMounts()).some((m) => m.mountPoint === prefix);
  }

  private async release(id: string): Promise<void> {
    await this.images.unmount(this.imagePath(id), this.mountPoint(id));
  }

  /** Unmounts, detaches and deletes everything of `id`; absent parts are fine. */
  private async discard(id: string): Promise<void> {
    await this.release(id);
    for (const suffix of ['.img', '.img.part', '.json']) await rm(join(this.dir, `${id}${suffix}`), { force: true });
  }

  private createdAlready(meta: WorkspaceMeta, o: { diskMb: number; uid: number }): Promise<string> {
    if (meta.diskMb !== o.diskMb || meta.uid !== o.uid) {
      throw new BuntimeError('internal_error', 'a workspace of this session exists with other parameters', {
        details: { sessionId: meta.sessionId },
      });
    }
    return this.images.mount(this.imagePath(meta.sessionId), this.mountPoint(meta.sessionId))
      .then(() => this.mountPoint(meta.sessionId));
  }

  private async requireMeta(id: string): Promise<WorkspaceMeta> {
    const meta = await readMeta(this.metaPath(id));
    if (!meta) {
      throw new BuntimeError('not_found', 'no workspace of this session on this node', {
        details: { sessionId: id, reason: 'workspace_missing' },
      });
    }
    return meta;
  }

  private async requireAbsent(id: string): Promise<void> {
    if (await readMeta(this.metaPath(id))) {
      throw new BuntimeError('internal_error', 'a workspace of this session exists already', { details: { sessionId: id } });
    }
  }

  private imagePath(id: string): string {
    return join(this.dir, `${id}.img`);
  }

  private metaPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}

function checkId(id: string): void {
  if (!ID.test(id)) throw new BuntimeError('internal_error', 'invalid workspace id', { details: { sessionId: id } });
}

function checkQuota(diskMb: number, uid: number): void {
  if (!Number.isInteger(diskMb) || diskMb < 1 || diskMb > 1 << 20 || !Number.isInteger(uid) || uid < 1) {
    throw new BuntimeError('internal_error', 'invalid workspace quota or uid', { details: { diskMb, uid } });
  }
}
