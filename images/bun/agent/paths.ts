/**
 * Safe resolution of caller-supplied paths into /workspace. The agent runs as root while user
 * code owns /workspace and may plant symlinks in it, so a path is accepted only when it stays
 * inside /workspace lexically (no `..`, absolute only under /workspace), every existing parent
 * resolves (realpath) inside /workspace, and the final component is not a symlink. These checks
 * give callers their 400s; what closes the race with user code swapping paths meanwhile is that
 * every file operation runs as the session user (as-user.ts), never as root.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AgentError } from './protocol.ts';

export const WORKSPACE = '/workspace';

export interface SafePath {
  /** Absolute path on disk, parents already resolved through realpath. */
  abs: string;
  /** Path relative to /workspace ('' for /workspace itself). */
  rel: string;
}

function refuse(path: string, why: string): AgentError {
  return new AgentError('invalid_request', `path ${JSON.stringify(path)} refused: ${why}`, { field: 'path', path });
}

/** The components of `path` below /workspace, or a refusal. */
function components(path: string): string[] {
  if (path.includes('\0')) throw refuse(path, 'contains NUL');
  let rest = path;
  if (path.startsWith('/')) {
    if (path !== WORKSPACE && !path.startsWith(`${WORKSPACE}/`)) throw refuse(path, 'outside /workspace');
    rest = path.slice(WORKSPACE.length);
  }
  const parts = rest.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse(path, '".." is not allowed');
  return parts;
}

function inside(abs: string): boolean {
  return abs === WORKSPACE || abs.startsWith(`${WORKSPACE}/`);
}

/** realpath of the deepest existing ancestor of `abs`, re-joined with the missing remainder. */
function resolveParent(abs: string, original: string): string {
  let existing = abs;
  const missing: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(existing);
      if (!inside(real)) throw refuse(original, 'a symlink on the way leaves /workspace');
      return join(real, ...missing.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existing === WORKSPACE) throw err;
      missing.push(basename(existing));
      existing = dirname(existing);
    }
  }
}

/**
 * Resolves a caller path. `allowRoot` admits /workspace itself (list, cwd); a final component
 * that is a symlink is always refused.
 */
export function safePath(path: string, allowRoot = false): SafePath {
  const parts = components(path);
  if (parts.length === 0) {
    if (!allowRoot) throw refuse(path, 'names /workspace itself');
    return { abs: WORKSPACE, rel: '' };
  }
  const name = parts[parts.length - 1] as string;
  const parent = resolveParent(join(WORKSPACE, ...parts.slice(0, -1)), path);
  const abs = join(parent, name);
  if (isSymlink(abs)) throw refuse(path, 'is a symlink');
  return { abs, rel: abs.slice(WORKSPACE.length + 1) };
}

function isSymlink(abs: string): boolean {
  try {
    return lstatSync(abs).isSymbolicLink();
  } catch {
    return false;
  }
}
