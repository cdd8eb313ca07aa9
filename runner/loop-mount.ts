import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { HostCommandError, type HostCommands } from './host-command.ts';
import { mountAt, readMounts } from './mountinfo.ts';

/** Mount options of every workspace: no setuid programs, no device nodes. */
export const MOUNT_OPTIONS = 'nosuid,nodev';

/**
 * Loop devices and mounts of image files, through `losetup`, `mount`, `umount` and `fsfreeze`.
 * Only ever touches devices whose backing file is the image it is given: never `losetup -D`,
 * never a device found by number alone.
 */
export class LoopMounts {
  constructor(
    private readonly cmd: HostCommands,
    /** Attach with O_DIRECT on the backing file, so its pages are not cached twice. */
    private readonly directIo: boolean,
  ) {}

  /** Attaches `file` to a free loop device; its path (`/dev/loopN`). */
  async attach(file: string): Promise<string> {
    const args = ['--find', '--show', ...(this.directIo ? ['--direct-io=on'] : []), file];
    return (await this.cmd.run('losetup', args)).trim();
  }

  /** Loop devices whose backing file is `file` (matched by inode by `losetup -j`). */
  async devicesOf(file: string): Promise<string[]> {
    const out = await this.cmd.run('losetup', ['--associated', file]);
    return [...out.matchAll(/^(\/dev\/loop\d+):/gm)].map((m) => m[1] as string);
  }

  /** Detaches `device`; one still in use (a lazy unmount) goes when its last user lets go. */
  async detach(device: string): Promise<void> {
    await this.cmd.run('losetup', ['--detach', device]);
  }

  async mount(device: string, mountPoint: string): Promise<void> {
    await this.cmd.run('mount', ['-t', 'ext4', '-o', MOUNT_OPTIONS, device, mountPoint]);
  }

  /**
   * Unmounts `mountPoint`. When a host process still uses it (a shell or copy in the mount,
   * a file op of the runner) the unmount is lazy: the path is free at once, the filesystem
   * goes when its last user does, and the loop device, detached by then, with it.
   */
  async unmount(mountPoint: string): Promise<'unmounted' | 'lazy'> {
    try {
      await this.cmd.run('umount', [mountPoint]);
      return 'unmounted';
    } catch (err) {
      if (!(err instanceof HostCommandError) || !/busy/i.test(err.stderr)) throw err;
      await this.cmd.run('umount', ['--lazy', mountPoint]);
      return 'lazy';
    }
  }

  /** Blocks new writes to the filesystem and flushes it to its image (`fsfreeze -f`). */
  async freeze(mountPoint: string): Promise<void> {
    await this.cmd.run('fsfreeze', ['--freeze', mountPoint]);
  }

  /** Lets writers go again; a filesystem that is not frozen is left as it is. */
  async thaw(mountPoint: string): Promise<void> {
    try {
      await this.cmd.run('fsfreeze', ['--unfreeze', mountPoint]);
    } catch (err) {
      if (!(err instanceof HostCommandError) || !/invalid argument/i.test(err.stderr)) throw err;
    }
  }

  /**
   * The loop device mounted on `mountPoint` when its backing file is `file`; `undefined` when
   * nothing is mounted there. Something else mounted there is an error: it is not ours.
   */
  async mountedImage(mountPoint: string, file: string): Promise<string | undefined> {
    const entry = mountAt(await readMounts(), mountPoint);
    if (!entry) return undefined;
    const backing = await backingFile(entry.source);
    if (backing !== file) throw new Error(`${mountPoint} has ${entry.source} mounted, not ${file}`);
    return entry.source;
  }
}

/** The backing file of a loop device per sysfs, without the ` (deleted)` mark. */
async function backingFile(device: string): Promise<string | undefined> {
  if (!/^\/dev\/loop\d+$/.test(device)) return undefined;
  const text = await readFile(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8').catch(() => '');
  return text.trim().replace(/ \(deleted\)$/, '') || undefined;
}
