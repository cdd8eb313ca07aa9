/**
 * File operations on /workspace for the `write`, `read`, `delete`, `mkdir` ops and a run's
 * `files`. Every step that resolves a user path runs as the session uid (`asUser`): the kernel
 * then checks each component with the user's rights, so no race can make the agent touch what
 * the user could not, and what the agent creates is the user's. Contents move on data-channel
 * sockets, chunk by chunk; errno values are mapped to the protocol's error codes here.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { asUser } from './as-user.ts';
import { unframe } from './frames.ts';
import { safePath, type SafePath } from './paths.ts';
import { AgentError } from './protocol.ts';

// O_NONBLOCK: opening a FIFO user code planted must fail or return at once, never hang the agent.
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
/** Linux's value; fs.constants does not export it. No fd of the agent may leak into a program. */
export const O_CLOEXEC = 0o2000000;
/** Bytes per read when sending a file. */
const READ_CHUNK = 256 * 1024;

/** Maps an fs error to the protocol's codes; AgentErrors pass through. */
export function fsError(err: unknown, path: string): AgentError {
  if (err instanceof AgentError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const details = { path, errno: code };
  if (code === 'ENOENT') return new AgentError('not_found', `${path}: no such file or directory`, details);
  if (['ENOSPC', 'EDQUOT', 'EFBIG'].includes(code)) return new AgentError('disk_full', `${path}: disk full`, details);
  if (['ELOOP', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG', 'EINVAL', 'ENXIO', 'EACCES', 'EPERM'].includes(code)) {
    return new AgentError('invalid_request', `${path}: ${code}`, details);
  }
  return new AgentError('internal_error', `${path}: ${(err as Error).message}`, details);
}

function tooLarge(path: string, size: number, maxFileBytes: number): AgentError {
  return new AgentError('payload_too_large', `${path}: ${size} bytes is over ${maxFileBytes}`,
    { path, size, maxFileBytes });
}

/** A file opened for reading, ready to be sent. */
export interface OpenedFile {
  fd: number;
  size: number;
}

export class FileOps {
  constructor(private readonly uid: number) {}

  /** Runs `fn` as the session user, mapping fs errors for `path`. */
  private user<T>(path: string, fn: () => T): T {
    try {
      return asUser(this.uid, fn);
    } catch (err) {
      throw fsError(err, path);
    }
  }

  /** Writes a whole buffer (a run's `files`): parents created, content replaced atomically. */
  write(path: string, data: Buffer, maxFileBytes: number): { path: string; size: number } {
    if (data.length > maxFileBytes) throw tooLarge(path, data.length, maxFileBytes);
    const { target, tmp, fd } = this.openTemp(path);
    try {
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      this.commit(path, fd, tmp, target);
    } catch (err) {
      this.abandon(fd, tmp);
      throw fsError(err, path);
    }
    return { path: target.rel, size: data.length };
  }

  /**
   * Writes what arrives on `source` until it ends; nothing changes unless all of `expected`
   * bytes arrived and fit (a stream that ends early was cut by its sender).
   */
  /**
   * Writes `path` from `source`: `expected` bytes, or, when undefined, a length-framed stream
   * of any length up to `maxFileBytes` (frames.ts). Either way a cut stream changes nothing.
   */
  async writeFrom(
    path: string, source: Socket, expected: number | undefined, maxFileBytes: number,
  ): Promise<{ path: string; size: number }> {
    if (expected !== undefined && expected > maxFileBytes) {
      source.destroy();
      throw tooLarge(path, expected, maxFileBytes);
    }
    let opened: { target: SafePath; tmp: string; fd: number };
    try {
      opened = this.openTemp(path);
    } catch (err) {
      source.destroy();
      throw err;
    }
    const { target, tmp, fd } = opened;
    let size = 0;
    try {
      const chunks = expected === undefined ? unframe(source as AsyncIterable<Buffer>, path) : (source as AsyncIterable<Buffer>);
      for await (const chunk of chunks) {
        size += chunk.length;
        if (expected === undefined && size > maxFileBytes) throw tooLarge(path, size, maxFileBytes);
        if (expected !== undefined && size > expected) {
          throw new AgentError('invalid_request', `${path}: more than the announced ${expected} bytes`, { path });
        }
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      if (expected !== undefined && size < expected) throw new AgentError('invalid_request', `${path}: the stream ended after ${size} of ${expected} bytes`, { path });
      this.commit(path, fd, tmp, target);
    } catch (err) {
      this.abandon(fd, tmp);
      throw fsError(err, path);
    } finally {
      source.destroy();
    }
    return { path: target.rel, size };
  }

  /** Opens a regular file for reading (as the user); the caller sends it with {@link sendTo}. */
  open(path: string, maxFileBytes: number): OpenedFile {
    const fd = this.user(path, () => openSync(safePath(path).abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new AgentError('invalid_request', `${path} is not a regular file`, { path });
      if (st.size > maxFileBytes) throw tooLarge(path, st.size, maxFileBytes);
      return { fd, size: st.size };
    } catch (err) {
      closeSync(fd);
      throw fsError(err, path);
    }
  }

  /** Closes a file {@link open} returned without sending it. */
  close(file: OpenedFile): void {
    closeSync(file.fd);
  }

  /**
   * Sends an opened file's bytes to `sink` and closes both; resolves with the bytes sent. Sends
   * at most the size it had when opened (the announced size), whatever user code does meanwhile.
   */
  async sendTo(file: OpenedFile, sink: Socket): Promise<number> {
    let sent = 0;
    try {
      while (sent < file.size) {
        const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, file.size - sent));
        const n = readSync(file.fd, buf, 0, buf.length, sent);
        if (n === 0) break;
        sent += n;
        if (!sink.write(buf.subarray(0, n))) await once(sink, 'drain');
      }
      await new Promise<void>((resolve) => sink.end(resolve));
      return sent;
    } catch (err) {
      sink.destroy();
      throw err;
    } finally {
      closeSync(file.fd);
    }
  }

  delete(path: string): string {
    return this.user(path, () => {
      const target = safePath(path);
      lstatSync(target.abs);
      // rm does not follow symlinks inside the tree it removes.
      rmSync(target.abs, { recursive: true, force: true });
      return target.rel;
    });
  }

  mkdir(path: string): string {
    return this.ensureDir(path).rel;
  }

  /** mkdir -p of a caller path (`/workspace` itself allowed only when `allowRoot`). */
  ensureDir(path: string, allowRoot = false): SafePath {
    return this.user(path, () => {
      const target = safePath(path, allowRoot);
      mkdirSync(target.abs, { recursive: true, mode: 0o755 });
      return target;
    });
  }

  /**
   * A sibling temporary file of the target, opened as the user: a write that fails (disk full,
   * too large) leaves the old file as it was and no partial one. The final rename replaces a
   * symlink user code planted rather than following it.
   */
  private openTemp(path: string): { target: SafePath; tmp: string; fd: number } {
    return this.user(path, () => {
      const target = safePath(path);
      mkdirSync(dirname(target.abs), { recursive: true, mode: 0o755 });
      const tmp = join(dirname(target.abs), `.${basename(target.abs)}.${randomBytes(4).toString('hex')}.part`);
      const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644);
      return { target, tmp, fd };
    });
  }

  private commit(path: string, fd: number, tmp: string, target: SafePath): void {
    closeSync(fd);
    this.user(path, () => renameSync(tmp, target.abs));
  }

  private abandon(fd: number, tmp: string): void {
    try {
      closeSync(fd);
    } catch {
      // already closed by a failed commit
    }
    try {
      asUser(this.uid, () => rmSync(tmp, { force: true }));
    } catch {
      // nothing more to undo
    }
  }
}
