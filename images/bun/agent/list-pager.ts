/**
 * The `list` op, one page at a time at a cost bounded by the page, never by the workspace.
 *
 * Order: depth first, a directory right before its contents. The entries of a directory come
 * sorted by name when it holds at most {@link SORT_LIMIT} of them, in the filesystem's own order
 * when it holds more (sorting would mean reading all of them for every page). A page ends with
 * `nextCursor`, the position of the entry after it (one index per directory level), from which
 * the next page resumes without walking what came before; `offset` still works, at the cost of
 * stepping over that many entries. `total` counts entries by name and type only, up to
 * {@link TOTAL_LIMIT}; past it `totalExact` is false and `total` is that lower bound. A page
 * never takes more than {@link MAX_STEPS} steps: then it ends early, with a cursor.
 *
 * Runs as the session user (handlers.ts), so a directory swapped for a symlink meanwhile is
 * read with the user's rights only; symlinks are listed, never followed.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { DirStream, DT_DIR, DT_UNKNOWN } from './dir-stream.ts';
import { fsError } from './files.ts';
import { safePath } from './paths.ts';
import { AgentError } from './protocol.ts';
import { entry, lstatOrNull, type ListEntry } from './walk.ts';

/** Directories with more entries than this are listed in the filesystem's order. */
export const SORT_LIMIT = 10_000;
/** Entries `total` counts at most. */
export const TOTAL_LIMIT = 50_000;
/** Entries one page steps over at most (skipped by `offset` or listed). */
const MAX_STEPS = 200_000;
/** Levels of nesting a listing follows. */
const MAX_DEPTH = 256;

export interface ListPage {
  files: ListEntry[];
  total: number;
  totalExact: boolean;
  /** Where the next page starts; null when this one reached the end. */
  nextCursor: string | null;
}

export interface ListRequest {
  path: string;
  recursive: boolean;
  limit: number;
  offset: number;
  cursor?: string;
}

/** One page of the listing of `path` (a file lists as itself). */
export function listPage(req: ListRequest): ListPage {
  const start = req.cursor === undefined ? [] : decodeCursor(req.cursor);
  try {
    const target = safePath(req.path, true);
    const st = lstatSync(target.abs);
    if (!st.isDirectory()) {
      const files = req.offset > 0 || start.length > 0 ? [] : [entry(target.rel, st)];
      return { files, total: 1, totalExact: true, nextCursor: null };
    }
    const counted = countEntries(target.abs, req.recursive);
    const page = new Pager(target.abs, target.rel, req.recursive).page(start, req.offset, req.limit);
    return { ...page, total: counted.count, totalExact: counted.exact };
  } catch (err) {
    throw err instanceof AgentError ? err : fsError(err, req.path);
  }
}

/** One entry of a directory: its name and whether to descend into it. */
interface Child {
  name: string;
  dir: boolean;
}

/** Whether the stream's current entry is a directory (lstat when the filesystem does not say). */
function isDir(stream: DirStream, parent: string): boolean {
  if (stream.type !== DT_UNKNOWN) return stream.type === DT_DIR;
  return lstatOrNull(join(parent, stream.name))?.isDirectory() ?? false;
}

/** A directory's entries by index: sorted when few, in the filesystem's order when many. */
class DirEntries {
  private readonly head: Child[] = [];
  private stream: DirStream | undefined;
  /** The entry most recently read past `head` (streaming), and its index. */
  private last: { index: number; child: Child } | undefined;

  constructor(private readonly abs: string, followLast: boolean) {
    const stream = DirStream.open(abs, followLast);
    if (!stream) return; // removed, replaced or unreadable meanwhile: empty as far as this page goes
    while (this.head.length <= SORT_LIMIT && stream.next()) this.head.push({ name: stream.name, dir: isDir(stream, abs) });
    if (this.head.length <= SORT_LIMIT) {
      stream.close();
      this.head.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } else {
      this.stream = stream;
    }
  }

  /** Entry `i`, or undefined past the end. Indexes past the head must be asked in order. */
  at(i: number): Child | undefined {
    if (i < this.head.length) return this.head[i];
    if (this.last?.index === i) return this.last.child;
    let next = this.last ? this.last.index + 1 : this.head.length;
    if (i < next || !this.stream) return undefined;
    // Entries skipped on the way are never decoded.
    for (; next < i; next++) if (!this.stream.next()) return this.end();
    if (!this.stream.next()) return this.end();
    this.last = { index: i, child: { name: this.stream.name, dir: isDir(this.stream, this.abs) } };
    return this.last.child;
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }

  private end(): undefined {
    this.close();
    return undefined;
  }
}

interface Frame {
  abs: string;
  rel: string;
  entries: DirEntries;
  /** Index of the next entry of this directory to visit. */
  index: number;
}

class Pager {
  private readonly frames: Frame[] = [];

  constructor(abs: string, rel: string, private readonly recursive: boolean) {
    this.push(abs, rel);
  }

  page(start: number[], offset: number, limit: number): { files: ListEntry[]; nextCursor: string | null } {
    try {
      this.resume(start);
      const files: ListEntry[] = [];
      let skip = offset;
      for (let steps = 0; ; steps++) {
        const next = this.peek();
        if (!next) return { files, nextCursor: null };
        if (files.length === limit || steps === MAX_STEPS) return { files, nextCursor: encodeCursor(this.frames.map((f) => f.index)) };
        const top = this.frames.at(-1)!;
        top.index++;
        const rel = top.rel ? `${top.rel}/${next.name}` : next.name;
        const abs = join(top.abs, next.name);
        if (skip > 0) skip--;
        else {
          const st = lstatOrNull(abs);
          if (st) files.push(entry(rel, st));
        }
        if (this.recursive && next.dir && this.frames.length < MAX_DEPTH) this.push(abs, rel);
      }
    } finally {
      for (const f of this.frames) f.entries.close();
    }
  }

  /** Re-enters the directories a cursor points into (as far as they are still directories). */
  private resume(start: number[]): void {
    if (start.length === 0) return;
    this.frames[0]!.index = start[0]!;
    for (let level = 1; level < start.length && this.recursive; level++) {
      const parent = this.frames[level - 1]!;
      const inside = parent.entries.at(parent.index - 1);
      if (!inside?.dir) return;
      const rel = parent.rel ? `${parent.rel}/${inside.name}` : inside.name;
      this.push(join(parent.abs, inside.name), rel).index = start[level]!;
    }
  }

  /** The next entry to visit, leaving directories that are done. */
  private peek(): Child | undefined {
    for (let top = this.frames.at(-1); top; top = this.frames.at(-1)) {
      const d = top.entries.at(top.index);
      if (d) return d;
      top.entries.close();
      this.frames.pop();
    }
    return undefined;
  }

  private push(abs: string, rel: string): Frame {
    // The listed directory was checked (safePath); one met below it is never followed if it
    // became a symlink meanwhile.
    const frame = { abs, rel, entries: new DirEntries(abs, this.frames.length === 0), index: 0 };
    this.frames.push(frame);
    return frame;
  }
}

/** Entries under `abs` by type only (names of directories alone are read), up to {@link TOTAL_LIMIT}. */
function countEntries(abs: string, recursive: boolean): { count: number; exact: boolean } {
  let count = 0;
  const dirs: Array<{ abs: string; depth: number }> = [{ abs, depth: 0 }];
  for (let here = dirs.pop(); here; here = dirs.pop()) {
    const stream = DirStream.open(here.abs, here.depth === 0);
    if (!stream) continue;
    try {
      while (stream.next()) {
        if (++count > TOTAL_LIMIT) return { count: TOTAL_LIMIT, exact: false };
        if (recursive && here.depth + 1 < MAX_DEPTH && isDir(stream, here.abs)) {
          dirs.push({ abs: join(here.abs, stream.name), depth: here.depth + 1 });
        }
      }
    } finally {
      stream.close();
    }
  }
  return { count, exact: true };
}

function encodeCursor(positions: number[]): string {
  return Buffer.from(JSON.stringify(positions)).toString('base64url');
}

function decodeCursor(cursor: string): number[] {
  let positions: unknown;
  try {
    positions = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    positions = undefined;
  }
  const valid = Array.isArray(positions) && positions.length > 0 && positions.length <= MAX_DEPTH
    && positions.every((p) => Number.isSafeInteger(p) && p >= 0);
  if (!valid) throw new AgentError('invalid_request', 'cursor is not one a listing handed out', { field: 'cursor' });
  return positions as number[];
}
