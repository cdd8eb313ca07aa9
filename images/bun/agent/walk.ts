/**
 * Walks of /workspace: the `list` op, `stat`'s file count and a run's `filesWritten`. Walks
 * never follow symlinks (user code may point them anywhere) and stop after a fixed number of
 * entries, so a workspace with millions of files costs a bounded amount of time per request.
 */
import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fsError } from './files.ts';
import { safePath, WORKSPACE } from './paths.ts';

/** Upper bound of entries one walk visits. */
const MAX_VISIT = 100_000;

export interface ListEntry {
  path: string;
  size: number;
  modified: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
}

export interface Visit {
  rel: string;
  abs: string;
  dirent: Dirent;
}

/** Depth-first, entries of a directory before its subdirectories' contents. */
export function* walk(abs = WORKSPACE, rel = '', recursive = true, budget = { left: MAX_VISIT }): Generator<Visit> {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(abs, { withFileTypes: true });
  } catch {
    return; // removed or replaced by user code meanwhile: nothing to report there
  }
  for (const dirent of dirents) {
    if (budget.left-- <= 0) return;
    const child = { rel: rel ? `${rel}/${dirent.name}` : dirent.name, abs: join(abs, dirent.name), dirent };
    yield child;
    if (recursive && dirent.isDirectory()) yield* walk(child.abs, child.rel, recursive, budget);
  }
}

function typeOf(st: Stats): ListEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function entry(rel: string, st: Stats): ListEntry {
  return { path: rel, size: st.size, modified: st.mtime.toISOString(), type: typeOf(st) };
}

export function lstatOrNull(abs: string): Stats | null {
  try {
    return lstatSync(abs);
  } catch {
    return null;
  }
}

/** The `list` op: a file lists as itself, a directory as its (recursive) contents. */
export function list(path: string, recursive: boolean, limit: number, offset: number): { files: ListEntry[]; total: number } {
  let files: ListEntry[];
  try {
    const target = safePath(path, true);
    const st = lstatSync(target.abs);
    if (!st.isDirectory()) files = [entry(target.rel, st)];
    else files = collect(target.abs, target.rel, recursive);
  } catch (err) {
    throw fsError(err, path);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: files.slice(offset, offset + limit), total: files.length };
}

function collect(abs: string, rel: string, recursive: boolean): ListEntry[] {
  const out: ListEntry[] = [];
  for (const v of walk(abs, rel, recursive)) {
    const st = lstatOrNull(v.abs);
    if (st) out.push(entry(v.rel, st));
  }
  return out;
}

/** Regular files under /workspace. */
export function countFiles(): number {
  let n = 0;
  for (const v of walk()) if (v.dirent.isFile()) n++;
  return n;
}
