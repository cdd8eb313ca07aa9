/**
 * Walks of /workspace for a run's `filesWritten` when the change watch cannot tell, and the
 * entry shape of listings (list-pager.ts). Walks never follow symlinks (user code may point them
 * anywhere) and stop after a fixed number of entries, so a workspace with millions of files
 * costs a bounded amount of time per request.
 */
import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE } from './paths.ts';

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

/** One listed entry of `rel`, from its lstat. */
export function entry(rel: string, st: Stats): ListEntry {
  return { path: rel, size: st.size, modified: st.mtime.toISOString(), type: typeOf(st) };
}

export function lstatOrNull(abs: string): Stats | null {
  try {
    return lstatSync(abs);
  } catch {
    return null;
  }
}
