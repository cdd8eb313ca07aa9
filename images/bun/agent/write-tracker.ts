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
/** How long a run's start may wait for the file clock to move past the last change, ms. */
const TICK_WAIT_MS = 20;
/** Entries a fallback walk visits between two yields to the agent's other work. */
const WALK_SLICE = 2_000;

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

  /**
   * Marks the start of a run. When the last known change fell in the same clock tick, the files
   * of that tick must be told apart from the run's: a small workspace is walked for them; in a
   * large one the start waits (≤ 20 ms) for the clock to tick instead, so no file can share it.
   */
  begin(): WriteWindow {
    let since = this.clock.now();
    if (since <= this.lastChange && this.lastWalk > SMALL_WORKSPACE) since = this.tickPast(this.lastChange);
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
    let visited = 0;
    for (const v of changed === undefined ? walk() : visitsOf(changed)) {
      if (changed === undefined) this.lastWalk++;
      // A walk of a huge workspace must not hold up the agent's other requests meanwhile.
      if (++visited % WALK_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (!v.dirent.isFile() || exclude.has(v.rel) || v.rel.startsWith(BARRIER_PREFIX)) continue;
      const ctime = lstatOrNull(v.abs)?.ctimeMs;
      if (ctime === undefined || ctime < w.since) continue;
      if (ctime === w.since && w.tied.has(v.rel)) continue;
      found.add(v.rel);
    }
    this.touch();
    return [...found].sort().slice(0, MAX_WRITTEN);
  }

  /** The file clock once it has moved past `t` (spinning: a tick is ≤ 10 ms), or as it is after the wait. */
  private tickPast(t: number): number {
    const until = performance.now() + TICK_WAIT_MS;
    let now = this.clock.now();
    while (now <= t && performance.now() < until) now = this.clock.now();
    return now;
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
