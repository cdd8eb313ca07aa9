import { randomBytes, randomInt } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BuntimeError } from '../core/errors.ts';

/** Who holds a uid: the node (runner) and the session it runs as. */
export interface UidOwner {
  nodeId: string;
  sessionId: string;
}

export interface UidAllocatorOptions {
  /** Host-wide directory shared by every deployment on the host (UID_DIR). */
  dir: string;
  /** Lowest uid handed out; default 200 000, clear of the host's own accounts. */
  min?: number;
  /** Highest uid handed out; default 999 999. */
  max?: number;
}

const TEMP_MAX_AGE_MS = 60_000;

/**
 * Session uids unique per HOST, not per deployment: two runners with different Redis prefixes
 * (or different Redis servers) on the same Docker engine never hand the same uid to two live
 * sessions. Each uid in use is one file `<dir>/<uid>` naming its owner, made complete and then
 * published with `link(2)`, which fails if the name exists: atomic across processes, and a
 * crash never leaves a half-written owner behind. Released uids are unlinked.
 */
export class UidAllocator {
  private readonly dir: string;
  private readonly min: number;
  private readonly max: number;
  private ready: Promise<void> | undefined;

  constructor(opts: UidAllocatorOptions) {
    this.dir = opts.dir;
    this.min = opts.min ?? 200_000;
    this.max = opts.max ?? 999_999;
    if (!(Number.isInteger(this.min) && Number.isInteger(this.max) && this.min > 0 && this.min <= this.max)) {
      throw new Error(`invalid uid range ${this.min}-${this.max}`);
    }
  }

  /** Creates the directory and clears temp files a crash left (idempotent; methods call it). */
  start(): Promise<void> {
    this.ready ??= this.init().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * A uid no live session on this host holds, now held by `owner`. Probes from a random point
   * of the range onwards, so concurrent allocators rarely meet. `service_unavailable` when the
   * range is full.
   */
  async allocate(owner: UidOwner): Promise<number> {
    await this.start();
    const span = this.max - this.min + 1;
    const first = randomInt(0, span);
    const temp = await this.writeTemp(owner);
    try {
      for (let i = 0; i < span; i++) {
        const uid = this.min + ((first + i) % span);
        if (await this.publish(temp, uid)) return uid;
      }
    } finally {
      await rm(temp, { force: true });
    }
    throw new BuntimeError('service_unavailable', 'no free session uid on this host', { retryAfterSec: 60 });
  }

  /**
   * Holds `uid` for `owner` again (a workspace remounted, a session restored with its uid):
   * `true` when it is now held by `owner` (already or newly), `false` when someone else holds it.
   */
  async claim(uid: number, owner: UidOwner): Promise<boolean> {
    await this.start();
    this.checkRange(uid);
    const temp = await this.writeTemp(owner);
    try {
      if (await this.publish(temp, uid)) return true;
    } finally {
      await rm(temp, { force: true });
    }
    return sameOwner(await this.owner(uid), owner);
  }

  /**
   * Frees `uid`. With `owner`, only if that owner holds it (a late release never frees a uid
   * someone else got since). `true` when it was freed.
   */
  async release(uid: number, owner?: UidOwner): Promise<boolean> {
    await this.start();
    this.checkRange(uid);
    if (owner && !sameOwner(await this.owner(uid), owner)) return false;
    return unlink(this.path(uid)).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    });
  }

  /** Who holds `uid`, or undefined when it is free. */
  async owner(uid: number): Promise<UidOwner | undefined> {
    await this.start();
    try {
      const parsed = JSON.parse(await readFile(this.path(uid), 'utf8')) as Partial<UidOwner>;
      return { nodeId: String(parsed.nodeId), sessionId: String(parsed.sessionId) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Every uid held, with its owner (for a janitor: release those of sessions positively gone). */
  async held(): Promise<Array<{ uid: number } & UidOwner>> {
    await this.start();
    const out: Array<{ uid: number } & UidOwner> = [];
    for (const name of await readdir(this.dir)) {
      if (!/^\d+$/.test(name)) continue;
      const owner = await this.owner(Number(name));
      if (owner) out.push({ uid: Number(name), ...owner });
    }
    return out;
  }

  private async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const now = Date.now();
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith('.tmp-')) continue;
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (st && now - st.mtimeMs > TEMP_MAX_AGE_MS) await rm(join(this.dir, name), { force: true });
    }
  }

  /** An owner file ready to be linked under a uid's name. */
  private async writeTemp(owner: UidOwner): Promise<string> {
    const temp = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ ...owner, at: new Date().toISOString() }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    return temp;
  }

  /** Links `temp` as `uid`; false when that uid is held already. */
  private async publish(temp: string, uid: number): Promise<boolean> {
    try {
      await link(temp, this.path(uid));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  private checkRange(uid: number): void {
    if (!Number.isInteger(uid) || uid < this.min || uid > this.max) throw new Error(`uid ${uid} outside ${this.min}-${this.max}`);
  }

  private path(uid: number): string {
    return join(this.dir, String(uid));
  }
}

function sameOwner(a: UidOwner | undefined, b: UidOwner): boolean {
  return a !== undefined && a.nodeId === b.nodeId && a.sessionId === b.sessionId;
}
