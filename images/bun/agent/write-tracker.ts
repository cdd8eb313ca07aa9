/**
 * Which files under /workspace a run created or modified: regular files whose ctime is at or
 * after the run's start, read on the kernel's file-timestamp clock (see FsClock). That clock
 * is coarse, so a file changed just before the start, within the same clock tick, carries the
 * very same ctime as the start. When that can have happened (the previous change the agent
 * knows of fell in this tick) the files already at the start tick are noted and left out.
 */
import type { FsClock } from './fs-clock.ts';
import { lstatOrNull, walk } from './walk.ts';

/** `filesWritten` lists at most this many paths (PROTOCOL.md). */
const MAX_WRITTEN = 1000;

export interface WriteWindow {
  /** Start of the run on the file clock, ms. */
  since: number;
  /** Files whose ctime already equalled `since` when the run started. */
  tied: ReadonlySet<string>;
}

export class WriteTracker {
  private lastChange = -Infinity;

  constructor(private readonly clock: FsClock) {}

  /** Marks the start of a run. */
  begin(): WriteWindow {
    const since = this.clock.now();
    const tied = since <= this.lastChange ? filesAt(since) : new Set<string>();
    this.lastChange = since;
    return { since, tied };
  }

  /** Notes that files may have changed just now (agent writes, a run's end). */
  touch(): void {
    this.lastChange = this.clock.now();
  }

  /** The run's written files: found by ctime, plus `extra`, minus `exclude`; sorted, ≤ 1000. */
  written(w: WriteWindow, extra: string[], exclude: ReadonlySet<string>): string[] {
    const found = new Set(extra);
    for (const v of walk()) {
      if (!v.dirent.isFile() || exclude.has(v.rel)) continue;
      const ctime = lstatOrNull(v.abs)?.ctimeMs;
      if (ctime === undefined || ctime < w.since) continue;
      if (ctime === w.since && w.tied.has(v.rel)) continue;
      found.add(v.rel);
    }
    this.touch();
    return [...found].sort().slice(0, MAX_WRITTEN);
  }
}

function filesAt(ctimeMs: number): Set<string> {
  const out = new Set<string>();
  for (const v of walk()) if (v.dirent.isFile() && lstatOrNull(v.abs)?.ctimeMs === ctimeMs) out.add(v.rel);
  return out;
}
