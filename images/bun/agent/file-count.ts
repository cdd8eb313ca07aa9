/**
 * `stat`'s count of regular files in /workspace, at a bounded cost per request. A small
 * workspace is counted on every `stat` (exact, a few ms). A large one answers with its last
 * count at once, and counts again in the background (at most every 5 s) when the change watch
 * saw something change since, or cannot tell: a `GET /sessions/{id}` never waits for a walk of
 * 200,000 files, and its `filesCount` may lag behind by one count. Counting reads entry types
 * only (getdents64, no stat), as the session user, and yields to the agent's other work between
 * batches.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { asUser } from './as-user.ts';
import type { ChangeWatch } from './change-watch.ts';
import { DirStream, DT_DIR, DT_REG, DT_UNKNOWN } from './dir-stream.ts';
import { WORKSPACE } from './paths.ts';

/** Workspaces with at most this many files are counted on every request. */
const SMALL = 10_000;
/** Least time between two background counts of a large workspace, ms. */
const RECOUNT_EVERY_MS = 5_000;
/** Entries counted between two yields to the agent's other work. */
const BATCH = 4096;

export class FileCount {
  private last: number | undefined;
  /** Change-watch position when the last count began. */
  private countedAt = -1;
  private running: Promise<number> | undefined;
  private startedAt = 0;

  constructor(
    private readonly uid: number,
    private readonly watch: ChangeWatch,
  ) {}

  /** Regular files in /workspace, as of the last count (see the module). */
  async get(): Promise<number> {
    if (this.last === undefined || this.last <= SMALL) return this.count();
    const unchanged = this.watch.trusted && this.watch.position === this.countedAt;
    if (!unchanged && Date.now() - this.startedAt >= RECOUNT_EVERY_MS) void this.count().catch(() => undefined);
    return this.last;
  }

  /** One count at a time; callers meanwhile share it. */
  private count(): Promise<number> {
    this.running ??= this.walk().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async walk(): Promise<number> {
    const position = this.watch.position;
    this.startedAt = Date.now();
    const tally = { files: 0, dirs: [WORKSPACE] };
    for (let abs = tally.dirs.pop(); abs !== undefined; abs = tally.dirs.pop()) {
      const stream = asUser(this.uid, () => DirStream.open(abs, abs === WORKSPACE));
      if (!stream) continue; // removed, replaced or unreadable: nothing to count there
      try {
        while (asUser(this.uid, () => countBatch(stream, abs, tally))) await new Promise<void>((resolve) => setImmediate(resolve));
      } finally {
        stream.close();
      }
    }
    this.last = tally.files;
    this.countedAt = position;
    return tally.files;
  }
}

/** Counts up to a batch of entries; true when the directory has more. */
function countBatch(stream: DirStream, abs: string, tally: { files: number; dirs: string[] }): boolean {
  for (let n = 0; n < BATCH; n++) {
    if (!stream.next()) return false;
    const type = stream.type === DT_UNKNOWN ? typeOf(join(abs, stream.name)) : stream.type;
    if (type === DT_REG) tally.files++;
    else if (type === DT_DIR) tally.dirs.push(join(abs, stream.name));
  }
  return true;
}

function typeOf(abs: string): number {
  try {
    const st = lstatSync(abs);
    return st.isFile() ? DT_REG : st.isDirectory() ? DT_DIR : DT_UNKNOWN;
  } catch {
    return DT_UNKNOWN;
  }
}
