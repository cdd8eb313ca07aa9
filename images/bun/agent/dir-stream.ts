/**
 * A directory read a batch at a time, straight from getdents64. Bun's `opendir` reads the whole
 * directory at its first `read` (≈ 500 ms for 200,000 entries at a quarter of a CPU), so a
 * listing page or a count that stops early would still pay for all of it; here a read costs
 * what it returns, and an entry's name is decoded only when asked for (counting needs types).
 */
import { dlopen, FFIType, ptr } from 'bun:ffi';
import { closeSync, constants, openSync } from 'node:fs';
import { O_CLOEXEC } from './files.ts';

/** d_type values (dirent.h). */
export const DT_UNKNOWN = 0;
export const DT_DIR = 4;
export const DT_REG = 8;

const SYS_GETDENTS64 = process.arch === 'arm64' ? 61 : 217;
/** Bytes per getdents64 call (≈ 1,000 entries of short names); one buffer per open directory. */
const BUFFER_BYTES = 32 * 1024;
/** Offsets in a struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name. */
const RECLEN_AT = 16;
const TYPE_AT = 18;
const NAME_AT = 19;

const libc = dlopen('libc.so.6', {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.i64], returns: FFIType.i64 },
});

export class DirStream {
  private readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private pos = 0;
  private end = 0;
  /** Offset of the current entry in `buf`, -1 before the first. */
  private at = -1;
  private fd: number | undefined;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Opens `abs` for reading; undefined when it is gone, not a directory or not readable.
   * `followLast: false` refuses a symlink in the last component (a child met while walking).
   */
  static open(abs: string, followLast = true): DirStream | undefined {
    const flags = constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC | (followLast ? 0 : constants.O_NOFOLLOW);
    try {
      return new DirStream(openSync(abs, flags));
    } catch {
      return undefined;
    }
  }

  /** Moves to the next entry (`.` and `..` left out); false at the end. */
  next(): boolean {
    for (;;) {
      if (this.at >= 0) this.pos = this.at + this.buf.readUInt16LE(this.at + RECLEN_AT);
      if (this.pos >= this.end && !this.fill()) return false;
      this.at = this.pos;
      if (!this.isDot()) return true;
    }
  }

  /** d_type of the current entry. */
  get type(): number {
    return this.buf[this.at + TYPE_AT]!;
  }

  /** Name of the current entry. */
  get name(): string {
    const start = this.at + NAME_AT;
    const nul = this.buf.indexOf(0, start);
    return this.buf.toString('utf8', start, nul === -1 ? this.at + this.buf.readUInt16LE(this.at + RECLEN_AT) : nul);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private fill(): boolean {
    if (this.fd === undefined) return false;
    const n = Number(libc.symbols.syscall(SYS_GETDENTS64, this.fd, ptr(this.buf), BUFFER_BYTES));
    // 0 is the end; a failure (the directory was removed meanwhile, say) ends it too.
    if (n <= 0) {
      this.close();
      return false;
    }
    this.pos = 0;
    this.end = n;
    this.at = -1;
    return true;
  }

  private isDot(): boolean {
    const s = this.at + NAME_AT;
    const dot = 0x2e;
    return this.buf[s] === dot && (this.buf[s + 1] === 0 || (this.buf[s + 1] === dot && this.buf[s + 2] === 0));
  }
}
