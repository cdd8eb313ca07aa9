import { access, mkdir, open, rm, rmdir, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { BLOCK, BLOCKS_PER_MB, estimateImageBlocks, fits, mkfsArgs, nextImageBlocks } from './ext4-layout.ts';
import type { HostCommands } from './host-command.ts';
import type { LoopMounts } from './loop-mount.ts';

/** What a freshly formatted image measured. */
export interface FormattedImage {
  imageBytes: number;
  /** Inodes of the filesystem (statfs `f_files`). */
  inodes: number;
}

/** Attempts at sizing one image before giving up (the model alone needs one). */
const SIZING_ATTEMPTS = 4;

/**
 * The operations on one image file and its mountpoint: format to a quota, attach and mount,
 * unmount and detach, copy (sparse, under fsfreeze when live). Never a walk of the files inside:
 * they are user code's (their re-owning after a copy is the agent's, inside the container).
 * No locking, metadata or budget here: the workspace store does that.
 */
export class WorkspaceImages {
  /** Image blocks per quota (MB) that statfs confirmed on this host. */
  private readonly sizes = new Map<number, number>();

  constructor(
    private readonly cmd: HostCommands,
    private readonly loops: LoopMounts,
    private readonly log: Logger,
  ) {}

  /**
   * Makes `file` an ext4 image whose `f_bavail` is the quota (statfs-checked; re-made at a
   * corrected size if this host's mke2fs lays it out other than the model) with its root owned
   * by `uid`, and leaves it mounted on `mountPoint`. On failure the caller discards both.
   */
  async format(file: string, mountPoint: string, diskMb: number, uid: number): Promise<FormattedImage> {
    let blocks = this.sizes.get(diskMb) ?? estimateImageBlocks(diskMb);
    for (let attempt = 1; attempt <= SIZING_ATTEMPTS; attempt++) {
      await makeSparse(file, blocks * BLOCK);
      await this.cmd.run('mkfs.ext4', mkfsArgs(file, diskMb, uid), 120_000);
      // A file made a moment ago has no loop device yet: attach without looking for one.
      await this.mountDevice(await this.loops.attach(file), mountPoint);
      // lost+found is root's and 0700: programs could not read it, file listings and snapshots
      // would trip on it, and it is not the empty workspace users expect. e2fsck makes a new
      // one when it has something to put there.
      await rmdir(join(mountPoint, 'lost+found'));
      const st = await statfs(mountPoint);
      if (fits(st.bavail, diskMb)) {
        this.sizes.set(diskMb, blocks);
        return { imageBytes: blocks * BLOCK, inodes: st.files };
      }
      this.log.warn({ diskMb, blocks, avail: st.bavail, want: diskMb * BLOCKS_PER_MB }, 'ext4 layout differs from the model; resizing');
      await this.unmount(file, mountPoint);
      blocks = nextImageBlocks(diskMb, blocks, st.bavail);
    }
    throw new Error(`ext4 image for ${diskMb} MB did not reach its size in ${SIZING_ATTEMPTS} attempts`);
  }

  /**
   * Mounts `file` on `mountPoint`: nothing to do when it is mounted there already; otherwise
   * through the loop device it is attached to (a runner restart leaves them), else a new one.
   */
  async mount(file: string, mountPoint: string): Promise<void> {
    if (await this.loops.mountedImage(mountPoint, file)) return;
    const device = (await this.loops.devicesOf(file))[0] ?? (await this.loops.attach(file));
    await this.mountDevice(device, mountPoint);
  }

  private async mountDevice(device: string, mountPoint: string): Promise<void> {
    await mkdir(mountPoint, { recursive: true, mode: 0o700 });
    await this.loops.mount(device, mountPoint);
  }

  /** Unmounts `mountPoint` if `file` is mounted there and detaches every loop device of `file`. */
  async unmount(file: string, mountPoint: string): Promise<void> {
    if (await this.loops.mountedImage(mountPoint, file)) {
      const how = await this.loops.unmount(mountPoint);
      if (how === 'lazy') this.log.warn({ mountPoint }, 'workspace busy on the host: unmounted lazily');
    }
    if (await exists(file)) {
      for (const device of await this.loops.devicesOf(file)) await this.loops.detach(device);
    }
    await rmdir(mountPoint).catch(ignore('ENOENT'));
  }

  /**
   * Copies the image `file` (mounted on `mountPoint` or not) to `to` as a consistent, clean
   * filesystem: frozen for the copy whenever it is in use. Returns how long writers were held, ms.
   */
  async snapshot(file: string, mountPoint: string, to: string): Promise<number> {
    if (await this.loops.mountedImage(mountPoint, file)) return this.copy(file, to, mountPoint);
    if ((await this.loops.devicesOf(file)).length === 0) return this.copy(file, to);
    // Attached but not mounted here: a container still uses it (unmounted while it ran). Mounting
    // its device gives the same filesystem, to freeze; then it is let go again.
    await this.mount(file, mountPoint);
    try {
      return await this.copy(file, to, mountPoint);
    } finally {
      await this.unmount(file, mountPoint);
    }
  }

  /**
   * Copies the image `file` to `to`, holes kept. When it is mounted (`liveMountPoint`) the
   * filesystem is frozen for the copy, so the copy is a consistent, clean filesystem; writers
   * block meanwhile and go on after. Returns how long writers were held, ms (0 when not live).
   */
  async copy(file: string, to: string, liveMountPoint?: string): Promise<number> {
    const started = performance.now();
    if (liveMountPoint) await this.loops.freeze(liveMountPoint);
    try {
      await this.cmd.run('cp', ['--sparse=always', '--', file, to], 600_000);
    } finally {
      if (liveMountPoint) await this.thawHard(liveMountPoint);
    }
    const frozenMs = liveMountPoint ? performance.now() - started : 0;
    await syncFile(to);
    return frozenMs;
  }

  /** Lets the writers of a frozen filesystem go; one not frozen is left as it is. */
  thaw(mountPoint: string): Promise<void> {
    return this.loops.thaw(mountPoint);
  }

  /** Thaws, retrying once: a filesystem left frozen would hang every writer of the session. */
  private async thawHard(mountPoint: string): Promise<void> {
    try {
      await this.loops.thaw(mountPoint);
    } catch (err) {
      this.log.error({ err, mountPoint }, 'fsfreeze -u failed; retrying');
      await this.loops.thaw(mountPoint);
    }
  }
}

/** A new sparse file of `bytes`, replacing whatever was there. */
async function makeSparse(file: string, bytes: number): Promise<void> {
  await rm(file, { force: true });
  const fh = await open(file, 'wx', 0o600);
  await fh.close();
  await truncate(file, bytes);
}

async function syncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

function ignore(code: string): (err: NodeJS.ErrnoException) => void {
  return (err) => {
    if (err.code !== code) throw err;
  };
}
