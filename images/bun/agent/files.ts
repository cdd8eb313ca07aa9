/**
 * File operations on /workspace for the `write`, `read`, `delete`, `mkdir` ops and a run's
 * `files`. Everything the agent creates is owned by the session uid, so user code can change
 * or remove it; errno values are mapped to the protocol's error codes here.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { assertFdInside, safePath, WORKSPACE, type SafePath } from './paths.ts';
import { AgentError } from './protocol.ts';

// O_NONBLOCK: opening a FIFO user code planted must fail or return at once, never hang the agent.
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
/** Linux's value; fs.constants does not export it. No fd of the agent may leak into a program. */
export const O_CLOEXEC = 0o2000000;

/** Maps an fs error to the protocol's codes; AgentErrors pass through. */
export function fsError(err: unknown, path: string): AgentError {
  if (err instanceof AgentError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const details = { path, errno: code };
  if (code === 'ENOENT') return new AgentError('not_found', `${path}: no such file or directory`, details);
  if (['ENOSPC', 'EDQUOT', 'EFBIG'].includes(code)) return new AgentError('disk_full', `${path}: disk full`, details);
  if (['ELOOP', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG', 'EINVAL', 'ENXIO'].includes(code)) {
    return new AgentError('invalid_request', `${path}: ${code}`, details);
  }
  return new AgentError('internal_error', `${path}: ${(err as Error).message}`, details);
}

export class FileOps {
  constructor(private readonly uid: number) {}

  /** Writes (creating parents, replacing content); returns the relative path and size. */
  write(path: string, data: Buffer, maxFileBytes: number): { path: string; size: number } {
    if (data.length > maxFileBytes) {
      throw new AgentError('payload_too_large', `${path}: ${data.length} bytes is over ${maxFileBytes}`,
        { path, size: data.length, maxFileBytes });
    }
    try {
      const target = safePath(path);
      this.mkdirs(dirname(target.abs));
      this.writeAt(target, data, path);
      return { path: target.rel, size: data.length };
    } catch (err) {
      throw fsError(err, path);
    }
  }

  read(path: string, maxFileBytes: number): Buffer {
    try {
      const fd = openSync(safePath(path).abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      try {
        assertFdInside(fd, path);
        return readAll(fd, path, maxFileBytes);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw fsError(err, path);
    }
  }

  delete(path: string): string {
    try {
      const target = safePath(path);
      lstatSync(target.abs);
      // rm does not follow symlinks inside the tree it removes.
      rmSync(target.abs, { recursive: true, force: true });
      return target.rel;
    } catch (err) {
      throw fsError(err, path);
    }
  }

  mkdir(path: string): string {
    return this.ensureDir(path).rel;
  }

  /** mkdir -p of a caller path (`/workspace` itself allowed only when `allowRoot`). */
  ensureDir(path: string, allowRoot = false): SafePath {
    try {
      const target = safePath(path, allowRoot);
      this.mkdirs(target.abs);
      return target;
    } catch (err) {
      throw fsError(err, path);
    }
  }

  /** mkdir -p where every directory created is owned by the session uid. */
  mkdirs(abs: string): void {
    const created = mkdirSync(abs, { recursive: true, mode: 0o755 });
    if (created === undefined) return;
    for (let dir = abs; dir.length >= created.length && dir !== WORKSPACE; dir = dirname(dir)) {
      const fd = openSync(dir, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      try {
        fchownSync(fd, this.uid, this.uid);
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * Writes a sibling temporary file, then renames it over the target: a write that fails (disk
   * full) leaves the old file as it was and no partial one. The rename replaces a symlink user
   * code planted rather than following it, and cannot leave /workspace (its own filesystem).
   */
  private writeAt(target: SafePath, data: Buffer, path: string): void {
    const tmp = join(dirname(target.abs), `.${basename(target.abs)}.${randomBytes(4).toString('hex')}.part`);
    const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644);
    let renamed = false;
    try {
      assertFdInside(fd, path);
      fchownSync(fd, this.uid, this.uid);
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      renameSync(tmp, target.abs);
      renamed = true;
    } finally {
      closeSync(fd);
      if (!renamed) rmSync(tmp, { force: true });
    }
  }
}

function readAll(fd: number, path: string, maxFileBytes: number): Buffer {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new AgentError('invalid_request', `${path} is not a regular file`, { path });
  if (st.size > maxFileBytes) {
    throw new AgentError('payload_too_large', `${path}: ${st.size} bytes is over ${maxFileBytes}`,
      { path, size: st.size, maxFileBytes });
  }
  const buf = Buffer.allocUnsafe(st.size);
  let off = 0;
  while (off < st.size) {
    const n = readSync(fd, buf, off, st.size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}
