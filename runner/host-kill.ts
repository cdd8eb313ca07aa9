import { readFile } from 'node:fs/promises';
import type { ContainerCgroup } from './container-cgroup.ts';

/**
 * Killing a session's processes from the host, whatever they do inside: the container's cgroup
 * is frozen (nothing in it runs or forks), the processes of that cgroup that match are sent
 * SIGKILL, and it is thawed, so they die before they run again; repeated until none is left.
 * Processes are matched by their real uid (the session's, unique on the host) and, for one
 * execution, the gid it runs under (gids repeat across containers: only ever within THIS
 * container's cgroup). Root's processes (tini, the agent, launchers) never match.
 */

/** A process as its host `/proc/<pid>/status` says: real uid and gid, pid inside its container. */
export interface ProcStatus {
  uid: number;
  gid: number;
  /** pid in the innermost pid namespace (what the container sees). */
  nspid: number;
  /** Zombies (and dead tasks) cannot be killed and hold nothing; their reaper collects them. */
  zombie: boolean;
}

/** What to kill: every process of `uid`, or only those of an execution's `gid`. */
export interface KillMatch {
  uid: number;
  gid?: number;
}

/** How long one freeze may take to settle before the pass goes on anyway, ms. */
const FREEZE_WAIT_MS = 500;
/** Passes stop after this long even if processes are left (only an unkillable one stays), ms. */
const KILL_BUDGET_MS = 3_000;

export function parseProcStatus(text: string): ProcStatus | undefined {
  const uid = /^Uid:\s+(\d+)/m.exec(text)?.[1];
  const gid = /^Gid:\s+(\d+)/m.exec(text)?.[1];
  const nspid = /^NSpid:\s+([\d\s]+)$/m.exec(text)?.[1]?.trim().split(/\s+/).at(-1);
  const pid = /^Pid:\s+(\d+)/m.exec(text)?.[1];
  const state = /^State:\s+(\S)/m.exec(text)?.[1];
  if (uid === undefined || gid === undefined) return undefined;
  return { uid: Number(uid), gid: Number(gid), nspid: Number(nspid ?? pid), zombie: state === 'Z' || state === 'X' };
}

async function status(pid: number): Promise<ProcStatus | undefined> {
  return parseProcStatus(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
}

function matches(p: ProcStatus, m: KillMatch): boolean {
  return !p.zombie && p.uid !== 0 && p.uid === m.uid && (m.gid === undefined || p.gid === m.gid);
}

/** Live processes of the cgroup that match, as host pid → status. */
async function matching(cg: ContainerCgroup, m: KillMatch): Promise<Map<number, ProcStatus>> {
  const out = new Map<number, ProcStatus>();
  await Promise.all((await cg.pids()).map(async (pid) => {
    const s = await status(pid);
    if (s && matches(s, m)) out.set(pid, s);
  }));
  return out;
}

/**
 * Kills every process of the cgroup that `m` selects; resolves with their pids as the container
 * sees them. A cgroup frozen by someone else (a paused, idle session) is neither frozen nor
 * thawed here: its processes are signalled and die when it is thawed.
 */
export async function killInCgroup(cg: ContainerCgroup, m: KillMatch): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + KILL_BUDGET_MS;
  for (;;) {
    const pausedByOthers = await cg.frozen();
    if (!pausedByOthers) await cg.freeze(FREEZE_WAIT_MS);
    let found: Map<number, ProcStatus>;
    try {
      found = await matching(cg, m);
      for (const [pid, s] of found) {
        try {
          process.kill(pid, 'SIGKILL');
          killed.add(s.nspid);
        } catch {
          // Gone already.
        }
      }
    } finally {
      if (!pausedByOthers) await cg.thaw();
    }
    if (found.size === 0 || pausedByOthers || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return [...killed].sort((a, b) => a - b);
}

/** The gid of the process the container knows as `nspid`, if it is one of `uid`'s. */
export async function gidOf(cg: ContainerCgroup, uid: number, nspid: number): Promise<number | undefined> {
  for (const s of (await matching(cg, { uid })).values()) if (s.nspid === nspid) return s.gid;
  return undefined;
}
