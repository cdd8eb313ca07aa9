/**
 * File operations on user paths run with the session uid's rights, never root's: user code
 * owns /workspace and can swap any directory for a symlink at any moment (renameat2 with
 * RENAME_EXCHANGE), so path checks alone cannot stop a root process from being raced outside
 * it. While `asUser` runs its callback, the agent's JavaScript thread has the session uid as its
 * effective uid and gid (a raw `setresuid`/`setresgid` syscall changes the calling thread only;
 * glibc's wrappers would change every thread), which also clears the effective capabilities:
 * the kernel checks every path component with the user's rights, and new files are the user's.
 * Real and saved ids stay 0, so the thread can switch back; nothing else in the agent runs
 * meanwhile because the callback is synchronous.
 */
import { dlopen, FFIType } from 'bun:ffi';

const SYS_SETRESUID = 117;
const SYS_SETRESGID = 119;
/** "Leave unchanged" for setres[ug]id. */
const KEEP = -1;

const libc = dlopen('libc.so.6', {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
});

function setEffective(nr: number, id: number): boolean {
  return libc.symbols.syscall(nr, KEEP, id, KEEP) === 0n;
}

let depth = 0;

/**
 * Runs `fn` (synchronous) with the session user's effective uid and gid on this thread. Nested
 * calls run inside the outer switch. The switch back cannot fail (the saved ids are 0); if it
 * ever did, the agent stops rather than go on with the wrong identity.
 */
export function asUser<T>(uid: number, fn: () => T): T {
  if (depth > 0) return fn();
  // gid first: with the uid already dropped there would be no right left to change it.
  if (!setEffective(SYS_SETRESGID, uid)) throw new Error('cannot take the session gid');
  if (!setEffective(SYS_SETRESUID, uid)) {
    setEffective(SYS_SETRESGID, 0);
    throw new Error('cannot take the session uid');
  }
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (!setEffective(SYS_SETRESUID, 0) || !setEffective(SYS_SETRESGID, 0)) {
      process.stderr.write('buntime-agent: cannot return to root credentials; exiting\n');
      process.exit(70);
    }
  }
}
