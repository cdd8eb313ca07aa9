/**
 * The executions the agent is running, indexed by their gid, for `ps`, `stat` and `kill`. An
 * execution stays here until nothing of it is alive; `ps` shows only those whose root process
 * still runs.
 */
import { killAll, procInfo } from './proc-table.ts';

export type KillReason = 'timeout' | 'kill';

export interface Execution {
  execId: string;
  gid: number;
  /** pid of the program (the launcher's child). */
  pid: number;
  /** What `ps` shows. */
  command: string;
  startedAt: Date;
  /** Set once the root process has ended. */
  exited: boolean;
  /** Started with `spawn`: it outlives the request that started it. */
  background: boolean;
  /** Why the agent killed it, if it did; the first reason wins. */
  killedBy?: KillReason;
}

export class Executions {
  private readonly byGid = new Map<number, Execution>();

  constructor(private readonly uid: number) {}

  add(e: Execution): void {
    this.byGid.set(e.gid, e);
  }

  remove(e: Execution): void {
    this.byGid.delete(e.gid);
  }

  running(): Execution[] {
    return [...this.byGid.values()].filter((e) => !e.exited);
  }

  /** The execution `pid` belongs to: its root process or any process carrying its gid. */
  find(pid: number): Execution | undefined {
    for (const e of this.byGid.values()) if (e.pid === pid && !e.exited) return e;
    const info = procInfo(pid);
    return info ? this.byGid.get(info.gid) : undefined;
  }

  /**
   * Kills every process of `e` (stop, kill, repeat until none); returns the pids signalled.
   * Without a reason it is cleanup (leftovers after the root process ended), not a verdict.
   */
  async kill(e: Execution, reason?: KillReason): Promise<number[]> {
    if (reason) e.killedBy ??= reason;
    const pids = await killAll((p) => p.gid === e.gid);
    // Nothing of it is alive now: `ps` must not show it, even before the launcher reports.
    e.exited = true;
    return pids;
  }

  /** Kills `pid`'s whole gid group; undefined when it is not a live user process. */
  killStray(pid: number): Promise<number[]> | undefined {
    const info = procInfo(pid);
    if (!info || info.uid !== this.uid) return undefined;
    return killAll((p) => p.gid === info.gid);
  }

  /** Kills every foreground execution (their requests are gone); returns their ids. */
  async killForeground(): Promise<string[]> {
    const victims = [...this.byGid.values()].filter((e) => !e.exited && !e.background);
    for (const e of victims) await this.kill(e, 'kill');
    return victims.map((e) => e.execId);
  }

  /** Every process of the session uid, whichever execution it belongs to. */
  async killEverything(): Promise<number[]> {
    const victims = [...this.byGid.values()].filter((e) => !e.exited);
    for (const e of victims) e.killedBy ??= 'kill';
    const pids = await killAll((p) => p.uid === this.uid);
    for (const e of victims) e.exited = true;
    return pids;
  }
}
