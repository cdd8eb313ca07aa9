/**
 * Which paths under /workspace changed, told by a recursive inotify watch, so that
 * `filesWritten` rescans only those instead of walking the whole workspace. The watch runs in
 * a helper process as the session's uid (images/bun/watcher.c: inotify is charged to the uid
 * that creates it, and the agent is root in every container); it reports changed paths on a
 * pipe. Events arrive asynchronously: before answering, a barrier file is written and its own
 * report awaited; the pipe is ordered, so every earlier change has been seen by then. Whenever
 * the watch cannot be trusted (no helper, events lost, no barrier report in time) the caller
 * falls back to a full walk; a helper that died is started again, at most every few seconds.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { log } from './channel.ts';
import { WORKSPACE } from './paths.ts';

/** Name prefix of barrier files; never reported, never mistaken for user files. */
export const BARRIER_PREFIX = '.buntime-barrier-';
export const WATCHER = '/opt/buntime/watcher';
const BARRIER_WAIT_MS = 250;
/** Distinct changed paths remembered; past it the oldest half is forgotten (runs spanning them walk). */
const MAX_TRACKED = 100_000;
/** Pause before starting a helper again after it died, doubled up to the maximum, ms. */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 60_000;

/** How a helper process is started (a seam for tests of the record handling). */
export type SpawnWatcher = (uid: number) => Subprocess<'pipe', 'pipe', 'ignore'>;

const spawnHelper: SpawnWatcher = (uid) =>
  Bun.spawn([WATCHER, String(uid), WORKSPACE], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });

export class ChangeWatch {
  private seq = 0;
  private readonly changed = new Map<string, number>();
  private readonly barriers = new Map<string, () => void>();
  private helper: Subprocess<'pipe', 'pipe', 'ignore'> | undefined;
  /** The helper finished its first scan: every change since is reported. */
  private ready = false;
  /** Sequence number of the last moment changes may have gone unseen: runs spanning it walk. */
  private blindAt = 0;
  private restartAt = 0;
  private restartDelay = RESTART_MIN_MS;

  constructor(
    private readonly uid: number,
    private readonly spawn: SpawnWatcher = spawnHelper,
  ) {}

  /** Starts the helper (again, if it died and its pause is over). */
  start(): void {
    if (this.helper || Date.now() < this.restartAt) return;
    this.ready = false;
    this.blindAt = ++this.seq;
    try {
      const helper = this.spawn(this.uid);
      this.helper = helper;
      void this.read(helper);
    } catch (err) {
      this.died(`cannot start the change watch: ${(err as Error).message}`);
    }
  }

  /** A point in the change sequence, taken when a run starts. */
  mark(): number {
    this.start();
    return this.seq;
  }

  /** The current position in the change sequence; it moves with every reported change. */
  get position(): number {
    return this.seq;
  }

  /** True while the watch is running and complete. */
  get trusted(): boolean {
    return this.ready && this.helper !== undefined;
  }

  /** Paths (relative to /workspace) changed after `mark`; undefined when only a full walk can tell. */
  async since(mark: number): Promise<string[] | undefined> {
    if (!this.trusted || this.blindAt > mark || !(await this.barrier()) || this.blindAt > mark) return undefined;
    const out: string[] = [];
    for (const [path, seq] of this.changed) if (seq > mark) out.push(path);
    return out;
  }

  /** Consumes the helper's NUL-ended records until it exits. */
  private async read(helper: Subprocess<'pipe', 'pipe', 'ignore'>): Promise<void> {
    let pending = Buffer.alloc(0);
    try {
      for await (const chunk of helper.stdout) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
        let start = 0;
        for (let nul = pending.indexOf(0); nul !== -1; nul = pending.indexOf(0, start)) {
          this.onRecord(pending.subarray(start, nul).toString('utf8'));
          start = nul + 1;
        }
        pending = pending.subarray(start);
      }
    } catch {
      // The pipe broke: the same as the helper ending.
    }
    const code = await helper.exited;
    if (this.helper === helper) this.died(`the change watch ended (exit ${code})`);
  }

  private onRecord(rec: string): void {
    const kind = rec[0];
    const path = rec.slice(1);
    if (kind === 'C') this.onChange(path);
    else if (kind === 'R') this.onReady();
    else if (kind === 'B') this.blindAt = ++this.seq;
    else if (kind === 'L') log(`the change watch gave up: ${path}`);
  }

  private onReady(): void {
    this.ready = true;
    this.blindAt = ++this.seq;
    this.restartDelay = RESTART_MIN_MS;
  }

  private onChange(path: string): void {
    if (path.startsWith(BARRIER_PREFIX)) {
      this.barriers.get(path)?.();
      return;
    }
    this.changed.delete(path);
    this.changed.set(path, ++this.seq);
    if (this.changed.size > MAX_TRACKED) this.forgetOldest();
  }

  /** Keeps the newer half; runs that began before the last forgotten change walk instead. */
  private forgetOldest(): void {
    let drop = this.changed.size - MAX_TRACKED / 2;
    for (const [path, seq] of this.changed) {
      if (drop-- <= 0) break;
      this.changed.delete(path);
      this.blindAt = Math.max(this.blindAt, seq);
    }
  }

  private died(why: string): void {
    const helper = this.helper;
    this.helper = undefined;
    this.ready = false;
    this.changed.clear();
    this.restartAt = Date.now() + this.restartDelay;
    this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
    if (helper && helper.exitCode === null) helper.kill('SIGKILL');
    log(`${why}; walking the workspace instead until it is back`);
  }

  private async barrier(): Promise<boolean> {
    const name = `${BARRIER_PREFIX}${randomBytes(6).toString('hex')}`;
    const seen = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), BARRIER_WAIT_MS);
      this.barriers.set(name, () => { clearTimeout(timer); resolve(true); });
    });
    try {
      writeFileSync(join(WORKSPACE, name), '');
      const ok = await seen;
      // A helper that stays silent (stopped by user code, say) is replaced.
      if (!ok && this.helper) this.died('the change watch did not answer');
      return ok;
    } catch {
      return false;
    } finally {
      this.barriers.delete(name);
      rmSync(join(WORKSPACE, name), { force: true });
    }
  }
}
