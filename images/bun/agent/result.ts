/**
 * Turns the launcher's exit report and what the agent knows (did it kill the execution, did
 * the OOM counter move) into the result fields of PROTOCOL.md.
 */
import { constants } from 'node:os';
import type { KillReason } from './executions.ts';
import type { ExitReport } from './launcher.ts';

export type Status = 'ok' | 'error' | 'timeout' | 'oom' | 'killed';

export interface ExitFields {
  exitCode: number | null;
  signal: string | null;
  status: Status;
  timedOut: boolean;
  /** Peak RSS, bytes. */
  memoryUsed: number;
  /** User + system CPU, ms. */
  cpuTime: number;
}

const SIGKILL = 9;
/** How a shell reports a child that died of SIGKILL (`sh -c` runs the program as its child). */
const SHELL_SIGKILL_EXIT = 128 + SIGKILL;

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export function signalName(n: number): string {
  return SIGNAL_NAMES.get(n) ?? `SIG${n}`;
}

export function resultOf(r: ExitReport, killedBy: KillReason | undefined, oomKilled: boolean): ExitFields {
  const usage = { memoryUsed: r.maxrss_kb * 1024, cpuTime: Math.round((r.utime_us + r.stime_us) / 1000) };
  if (killedBy === 'timeout') {
    return { ...usage, exitCode: 124, signal: 'SIGKILL', status: 'timeout', timedOut: true };
  }
  const signal = r.signal === null ? null : signalName(r.signal);
  const diedOfKill = r.signal === SIGKILL || r.exit === SHELL_SIGKILL_EXIT;
  const status: Status = killedBy === 'kill' && (signal !== null || diedOfKill) ? 'killed'
    : oomKilled && diedOfKill ? 'oom'
      : signal !== null ? 'killed'
        : r.exit === 0 ? 'ok' : 'error';
  return { ...usage, exitCode: r.exit, signal, status, timedOut: false };
}
