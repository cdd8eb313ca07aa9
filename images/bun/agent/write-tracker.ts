/**
 * Which files under /workspace a run created or modified: regular files whose ctime is at or
 * after the run's start, read on the kernel's file-timestamp clock (see FsClock). That clock
 * is coarse, so a file changed just before the start, within the same clock tick, carries the
 * very same ctime as the start. When that can have happened (the previous change the agent
 * knows of fell in this tick) the files already at the start tick are noted and left out.
 */
import { join } from 'node:path';
import { BARRIER_PREFIX, type ChangeWatch } from './change-watch.ts';
import type { FsClock } from './fs-clock.ts';
import { WORKSPACE } from './paths.ts';
import { lstatOrNull, walk, type Visit } from './walk.ts';

/** `filesWritten` lists at most this many paths (PROTOCOL.md). */
const MAX_WRITTEN = 1000;
/**
 * Up to this many entries a full walk is cheaper than the change watch's barrier (~0.8 ms);
 * past it the watch tells what to rescan.
 */
const SMALL_WORKSPACE = 400;

export interface WriteWindow {
  /** Start of the run on the file clock, ms. */
  since: number;
  /** Files whose ctime already equalled `since` when the run started. */
  tied: ReadonlySet<string>;
  /** Position in the change watch's sequence at the start. */
  mark: number;
}

export class WriteTracker {
  private lastChange = -Infinity;
  /** Entries the last full walk visited. */
  private lastWalk = 0;

  constructor(
    private readonly clock: FsClock,
    private readonly watch: ChangeWatch,
  ) {}

  /** Marks the start of a run. */
  begin(): WriteWindow {
    const since = this.clock.now();
    const tied = since <= this.lastChange ? filesAt(since) : new Set<string>();
    this.lastChange = since;
    return { since, tied, mark: this.watch.mark() };
  }

  /** Notes that files may have changed just now (agent writes, a run's end). */
  touch(): void {
    this.lastChange = this.clock.now();
  }

  /**
   * The run's written files: found by ctime among the paths the change watch saw changing (the
   * whole workspace when it cannot tell), plus `extra`, minus `exclude`; sorted, ≤ 1000.
   */
  async written(w: WriteWindow, extra: string[], exclude: ReadonlySet<string>): Promise<string[]> {
    const found = new Set(extra);
    const changed = this.lastWalk > SMALL_WORKSPACE ? await this.watch.since(w.mark) : undefined;
    if (changed === undefined) this.lastWalk = 0;
    for (const v of changed === undefined ? walk() : visitsOf(changed)) {
      if (changed === undefined) this.lastWalk++;
      if (!v.dirent.isFile() || exclude.has(v.rel) || v.rel.startsWith(BARRIER_PREFIX)) continue;
      const ctime = lstatOrNull(v.abs)?.ctimeMs;
      if (ctime === undefined || ctime < w.since) continue;
      if (ctime === w.since && w.tied.has(v.rel)) continue;
      found.add(v.rel);
    }
    this.touch();
    return [...found].sort().slice(0, MAX_WRITTEN);
  }
}

/** The changed paths as walk visits: a file as itself, a directory (new or moved in) in full. */
function* visitsOf(paths: string[]): Generator<Visit> {
  for (const rel of paths) {
    const abs = join(WORKSPACE, rel);
    const st = lstatOrNull(abs);
    if (!st) continue;
    const dirent = { name: rel, isFile: () => st.isFile(), isDirectory: () => st.isDirectory() } as Visit['dirent'];
    if (st.isDirectory()) yield* walk(abs, rel);
    else yield { rel, abs, dirent };
  }
}

function filesAt(ctimeMs: number): Set<string> {
  const out = new Set<string>();
  for (const v of walk()) if (v.dirent.isFile() && lstatOrNull(v.abs)?.ctimeMs === ctimeMs) out.add(v.rel);
  return out;
}
