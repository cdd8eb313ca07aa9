/**
 * The `reown` op: a workspace copied from another session (a fork, a named snapshot) arrives
 * with the other session's uid on its files. The agent gives them to this session's uid, as
 * root, inside the new container and before the runner lets any user code run there: nothing
 * can swap a path during the walk, and the host never walks a workspace user code made.
 * Symlinks are changed themselves and never followed (lchown, the fchownat AT_SYMLINK_NOFOLLOW
 * of node:fs), directories are entered through lstat only, and the walk never leaves the
 * workspace's filesystem.
 */
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE } from './paths.ts';

/** Re-owns every entry of /workspace whose uid or gid is `fromUid`; returns how many changed. */
export function reown(fromUid: number, toUid: number): number {
  const root = lstatSync(WORKSPACE);
  let changed = 0;
  const pending = [WORKSPACE];
  while (pending.length > 0) {
    const path = pending.pop() as string;
    const st = lstatSync(path);
    if (st.dev !== root.dev) continue;
    if (st.uid === fromUid || st.gid === fromUid) {
      lchownSync(path, st.uid === fromUid ? toUid : st.uid, st.gid === fromUid ? toUid : st.gid);
      changed++;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) pending.push(join(path, name));
  }
  return changed;
}
