import { mkdir, rename, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DiskBudget } from './disk-budget.ts';
import { HostCommands } from './host-command.ts';
import { KeyedLock } from './keyed-lock.ts';
import { LoopMounts } from './loop-mount.ts';
import { readMounts } from './mountinfo.ts';
import { storageError } from './storage-error.ts';
import { checkId, WorkspaceDir } from './workspace-dir.ts';
import { WorkspaceImages } from './workspace-image.ts';
import { readMeta, writeMeta, type WorkspaceMeta } from './workspace-meta.ts';

export interface WorkspaceStoreOptions {
  /** Images, their metadata and mountpoints (WORKSPACE_DIR); see {@link WorkspaceDir}. */
  dir: string;
  log: Logger;
  /**
   * Most quota (MB) the images here may add up to (NODE_DISK_BUDGET_MB); creates, copies and
   * imports past it are refused. 0 or absent: 90 % of the size of the filesystem holding `dir`.
   */
  budgetMb?: number;
  /** Attach loop devices with direct I/O on the image (its pages cached once, not twice). Default true. */
  directIo?: boolean;
}

/**
 * Disk-backed session workspaces: one sparse ext4 image per session, loop-mounted on the host
 * and bind-mounted into the session's container at /workspace. Files live on disk (no host RAM
 * pinned), the quota is exact (`f_bavail` = disk, ENOSPC past it, inode cap too), and a
 * workspace outlives its container and the runner: its metadata keeps the uid for a remount.
 *
 * Work on one session's image is serialised; one store (one runner) per directory. Failures
 * come out of the catalogue: the host's disk full or failing → `service_unavailable` with a
 * retry hint, a missing workspace → `not_found`, anything else → `internal_error`.
 */
export class WorkspaceStore {
  private readonly cmd: HostCommands;
  private readonly images: WorkspaceImages;
  private readonly lock = new KeyedLock();
  private budget = new DiskBudget(0);
  private started: Promise<WorkspaceDir> | undefined;

  constructor(private readonly opts: WorkspaceStoreOptions) {
    this.cmd = new HostCommands(opts.log);
    this.images = new WorkspaceImages(this.cmd, new LoopMounts(this.cmd, opts.directIo ?? true), opts.log);
  }

  /**
   * Prepares the directory (idempotent; every method calls it): thaws any workspace a crash
   * left frozen, removes what it left half-made, and loads the quotas of the images here.
   */
  start(): Promise<WorkspaceDir> {
    this.started ??= this.init().catch((err: unknown) => {
      this.started = undefined;
      throw storageError(err, 'start');
    });
    return this.started;
  }

  /** Makes a workspace of `diskMb` (MB) owned by `uid` and mounts it; its mountpoint. Idempotent. */
  async create(sessionId: string, o: { diskMb: number; uid: number }): Promise<string> {
    checkQuota(o.diskMb, o.uid);
    return this.locked('create', [sessionId], async (dir) => {
      const existing = await dir.readMeta(sessionId);
      if (existing) return this.createdAlready(dir, existing, o);
      return this.budget.hold(o.diskMb, () => this.commit(dir, sessionId, async () => {
        const made = await this.images.format(dir.image(sessionId), dir.mountPoint(sessionId), o.diskMb, o.uid);
        return { version: 1, sessionId, uid: o.uid, diskMb: o.diskMb, ...made, createdAt: new Date().toISOString() };
      }));
    });
  }

  /** Mounts an existing workspace (after a restart, a reboot, an unmount); its mountpoint. */
  async mount(sessionId: string): Promise<string> {
    return this.locked('mount', [sessionId], async (dir) => {
      await dir.requireMeta(sessionId);
      await this.images.mount(dir.image(sessionId), dir.mountPoint(sessionId));
      return dir.mountPoint(sessionId);
    });
  }

  /**
   * Unmounts a workspace and detaches its loop device; the image stays. Call it once the
   * session's container is gone: a container holds the filesystem in its own mount namespace,
   * and until it goes the loop device stays (detached lazily) and the host cannot freeze it.
   */
  async unmount(sessionId: string): Promise<void> {
    await this.locked('unmount', [sessionId], (dir) => this.images.unmount(dir.image(sessionId), dir.mountPoint(sessionId)));
  }

  /** Unmounts and deletes a workspace, image and metadata; an absent one is fine. */
  async remove(sessionId: string): Promise<void> {
    await this.locked('remove', [sessionId], async (dir) => {
      await this.discard(dir, sessionId);
      this.budget.delete(sessionId);
    });
  }

  /**
   * Copies workspace `srcId` (live or not) into a new workspace `dstId` for `uid`, and mounts
   * it; its mountpoint. A mounted source is frozen (`fsfreeze`) for the copy: the copy is
   * consistent and clean, and the source's writers block until it is done. The files keep the
   * source's owner; the metadata says so (`reownFrom`) until {@link adopted}.
   */
  async copy(srcId: string, dstId: string, o: { uid: number }): Promise<string> {
    return this.locked('copy', [srcId, dstId], async (dir) => {
      const src = await dir.requireMeta(srcId);
      await dir.requireAbsent(dstId);
      return this.budget.hold(src.diskMb, () => this.commit(dir, dstId, async () => {
        await this.copyOut(dir, srcId, dir.part(dstId));
        return this.adopt(dir, dstId, src, o.uid, srcId);
      }));
    });
  }

  /** Exports a workspace (live or not, as {@link copy}) as a snapshot: `file` (sparse image) and `file.json`. */
  async exportTo(sessionId: string, file: string): Promise<void> {
    await this.locked('export', [sessionId], async (dir) => {
      const meta = await dir.requireMeta(sessionId);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      try {
        await this.copyOut(dir, sessionId, `${file}.part`);
        await rename(`${file}.part`, file);
      } finally {
        await rm(`${file}.part`, { force: true });
      }
      // The metadata is written last: a snapshot without it is not one.
      await writeMeta(`${file}.json`, meta);
    });
  }

  /** Makes workspace `sessionId` for `uid` from a snapshot {@link exportTo} wrote (files to re-own, as {@link copy}); mounted. */
  async importFrom(file: string, sessionId: string, o: { uid: number }): Promise<string> {
    return this.locked('import', [sessionId], async (dir) => {
      const snap = await readMeta(`${file}.json`);
      if (!snap) throw new BuntimeError('not_found', 'no such snapshot', { details: { reason: 'snapshot_missing' } });
      await dir.requireAbsent(sessionId);
      return this.budget.hold(snap.diskMb, () => this.commit(dir, sessionId, async () => {
        await this.images.copy(file, dir.part(sessionId));
        return this.adopt(dir, sessionId, snap, o.uid, file);
      }));
    });
  }

  /**
   * Hands a workspace to another uid (its own was taken meanwhile): the metadata records `uid`
   * and the owner the files still have, for the agent to re-own. Returns the new metadata.
   */
  async reassign(sessionId: string, uid: number): Promise<WorkspaceMeta> {
    return this.locked('reassign', [sessionId], async (dir) => {
      const meta = await dir.requireMeta(sessionId);
      const next = { ...meta, uid, reownFrom: meta.reownFrom ?? meta.uid };
      await writeMeta(dir.meta(sessionId), next);
      return next;
    });
  }

  /** Records that the files now belong to the workspace's uid (the agent re-owned them). */
  async adopted(sessionId: string): Promise<void> {
    await this.locked('adopted', [sessionId], async (dir) => {
      const { reownFrom: _done, ...meta } = await dir.requireMeta(sessionId);
      await writeMeta(dir.meta(sessionId), meta);
    });
  }

  /** Ids of the sessions with a workspace here (for the janitor). */
  async list(): Promise<string[]> {
    return (await this.start()).ids();
  }

  /** A workspace's metadata, or undefined when there is none here. */
  async meta(sessionId: string): Promise<WorkspaceMeta | undefined> {
    return (await this.start()).readMeta(sessionId);
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

  /** Recent cost of each host tool and store operation (`store.<op>`), ms. */
  timings(): Record<string, { count: number; p50Ms: number; p95Ms: number }> {
    return this.cmd.timings.summary();
  }

  private async init(): Promise<WorkspaceDir> {
    const dir = await WorkspaceDir.open(this.opts.dir);
    this.budget = new DiskBudget(this.opts.budgetMb || (await autoBudget(dir.root)));
    // A runner that died between fsfreeze -f and -u left a workspace frozen: its writers hang.
    for (const m of await readMounts()) {
      if (m.mountPoint.startsWith(dir.mountPrefix)) await this.images.thaw(m.mountPoint).catch(() => undefined);
    }
    const left = await dir.leftovers();
    for (const file of left.files) await rm(file, { force: true });
    for (const id of left.ids) {
      this.opts.log.warn({ sessionId: id }, 'removing a workspace image whose create never finished');
      await this.discard(dir, id);
    }
    for (const id of await dir.ids()) {
      const meta = await dir.readMeta(id);
      if (meta) this.budget.set(id, meta.diskMb);
    }
    return dir;
  }

  /** Runs `task` under the locks of `ids` once started; failures come out mapped. */
  private async locked<T>(op: string, ids: string[], task: (dir: WorkspaceDir) => Promise<T>): Promise<T> {
    ids.forEach(checkId);
    const dir = await this.start();
    const started = performance.now();
    return this.lock.run(ids, async () => {
      try {
        const out = await task(dir);
        this.cmd.timings.record(`store.${op}`, performance.now() - started);
        return out;
      } catch (err) {
        throw storageError(err, op);
      }
    });
  }

  /**
   * Makes workspace `id` with `make` (which leaves it mounted) and commits it by writing its
   * metadata; on any failure everything of `id` is removed again.
   */
  private async commit(dir: WorkspaceDir, id: string, make: () => Promise<WorkspaceMeta>): Promise<string> {
    try {
      const meta = await make();
      await writeMeta(dir.meta(id), meta);
      this.budget.set(id, meta.diskMb);
      this.opts.log.info({ sessionId: id, diskMb: meta.diskMb, uid: meta.uid }, 'workspace ready');
      return dir.mountPoint(id);
    } catch (err) {
      await this.discard(dir, id).catch((e: unknown) => this.opts.log.error({ err: e, sessionId: id }, 'workspace cleanup failed'));
      throw err;
    }
  }

  /** Copies a workspace's image to `to`, frozen while it is in use. */
  private async copyOut(dir: WorkspaceDir, id: string, to: string): Promise<void> {
    const frozenMs = await this.images.snapshot(dir.image(id), dir.mountPoint(id), to);
    if (frozenMs > 0) this.opts.log.info({ sessionId: id, frozenMs: Math.round(frozenMs) }, 'workspace copied under fsfreeze');
  }

  /**
   * Turns the copied `<id>.img.part` into workspace `id` for `uid`, mounted. Its files still
   * belong to the source's owner: `reownFrom` says so until the agent has re-owned them.
   */
  private async adopt(dir: WorkspaceDir, id: string, from: WorkspaceMeta, uid: number, copiedFrom: string): Promise<WorkspaceMeta> {
    await rename(dir.part(id), dir.image(id));
    await this.images.mount(dir.image(id), dir.mountPoint(id));
    const owner = from.reownFrom ?? from.uid;
    const { reownFrom: _old, ...rest } = from;
    return {
      ...rest, sessionId: id, uid, createdAt: new Date().toISOString(), copiedFrom, ...(owner !== uid ? { reownFrom: owner } : {}),
    };
  }

  /** Unmounts, detaches and deletes everything of `id`; absent parts are fine. */
  private async discard(dir: WorkspaceDir, id: string): Promise<void> {
    await this.images.unmount(dir.image(id), dir.mountPoint(id));
    await dir.deleteFiles(id);
  }

  private async createdAlready(dir: WorkspaceDir, meta: WorkspaceMeta, o: { diskMb: number; uid: number }): Promise<string> {
    if (meta.diskMb !== o.diskMb || meta.uid !== o.uid) {
      throw new BuntimeError('internal_error', 'a workspace of this session exists with other parameters', {
        details: { sessionId: meta.sessionId },
      });
    }
    await this.images.mount(dir.image(meta.sessionId), dir.mountPoint(meta.sessionId));
    return dir.mountPoint(meta.sessionId);
  }
}

async function autoBudget(root: string): Promise<number> {
  const st = await statfs(root);
  return Math.floor((st.blocks * st.bsize * 0.9) / (1024 * 1024));
}

function checkQuota(diskMb: number, uid: number): void {
  if (!Number.isInteger(diskMb) || diskMb < 1 || diskMb > 1 << 20 || !Number.isInteger(uid) || uid < 1) {
    throw new BuntimeError('internal_error', 'invalid workspace quota or uid', { details: { diskMb, uid } });
  }
}
