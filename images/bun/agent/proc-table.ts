/**
 * The container's processes as /proc shows them, and the kill loop. An execution is "every
 * process whose real gid is the execution's gid" (PROTOCOL.md, Process tracking), so killing it
 * needs no tree walk: stop every matching process, kill it, look again, until none is left. A
 * stopped process cannot fork, so even a fork bomb converges within a few passes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { log } from './channel.ts';

export interface ProcInfo {
  pid: number;
  uid: number;
  gid: number;
}

/** Synchronous passes before the loop yields to the event loop between passes. */
const EAGER_PASSES = 32;
/** Give up (and say so on stderr) after this long; only an unkillable D-state process gets here. */
const KILL_DEADLINE_MS = 10_000;

/** One process's real uid and gid; undefined when it is gone or already a zombie. */
export function procInfo(pid: number): ProcInfo | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  // Zombies and dead tasks hold no resources and cannot be signalled away; their reaper
  // (the launcher or tini) collects them.
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  if (state === 'Z' || state === 'X') return undefined;
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
  if (uid === undefined || gid === undefined) return undefined;
  return { pid, uid: Number(uid), gid: Number(gid) };
}

/** Every live process except the agent itself. */
export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    const info = procInfo(pid);
    if (info) out.push(info);
  }
  return out;
}

function signal(pid: number, sig: 'SIGSTOP' | 'SIGKILL'): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // already gone
  }
}

/** One stop-then-kill pass; returns the pids it found. */
function pass(match: (p: ProcInfo) => boolean): number[] {
  const pids = listProcs().filter(match).map((p) => p.pid);
  for (const pid of pids) signal(pid, 'SIGSTOP');
  for (const pid of pids) signal(pid, 'SIGKILL');
  return pids;
}

/**
 * Kills every process `match` selects, repeating until /proc shows none; resolves with every
 * pid signalled. Never touches root's processes (the agent, the launchers, tini).
 */
export async function killAll(match: (p: ProcInfo) => boolean): Promise<number[]> {
  const safe = (p: ProcInfo) => p.uid !== 0 && p.gid !== 0 && match(p);
  const signalled = new Set<number>();
  const deadline = Date.now() + KILL_DEADLINE_MS;
  for (let i = 0; ; i++) {
    const pids = pass(safe);
    if (pids.length === 0) break;
    for (const pid of pids) signalled.add(pid);
    if (Date.now() > deadline) {
      log(`kill loop gave up with ${pids.length} processes left (${pids.slice(0, 8).join(',')})`);
      break;
    }
    // A process killed in this pass can take a moment to leave /proc; after the eager passes,
    // wait a little instead of spinning, so the agent keeps answering meanwhile.
    if (i >= EAGER_PASSES) await Bun.sleep(5);
  }
  return [...signalled].sort((a, b) => a - b);
}
