import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { UidAllocator, UidOwner } from './uid-allocator.ts';
import { checkId } from './workspace-dir.ts';
import type { WorkspaceStore } from './workspace-store.ts';

/** A session's workspace, mounted on the host, ready to be bound at /workspace. */
export interface SessionDisk {
  /** The uid the session's programs run as and its files belong to. */
  uid: number;
  /** Host mountpoint of the workspace filesystem. */
  mountPoint: string;
  /**
   * The uid the files still carry when it is not `uid` (a copy): the session's agent re-owns
   * them before any user code runs, then {@link SessionWorkspaces.adopted} is called.
   */
  reownFrom?: number;
}

export interface SessionWorkspacesOptions {
  store: WorkspaceStore;
  uids: UidAllocator;
  nodeId: string;
  /** Named snapshots: `<snapshotId>.img` and its metadata `<snapshotId>.img.json` (SNAPSHOT_DIR). */
  snapshotDir: string;
  /**
   * One empty file per workspace made for a session whose record is not written yet (a warm
   * spare, a create under way): what a runner that died left there is positively no session's.
   */
  unclaimedDir: string;
  log: Logger;
}

/**
 * The workspaces and uids of this node's sessions: the disk store and the host-wide uid registry
 * moved together, so a session's uid is held exactly as long as its workspace exists and a
 * remount gets the same uid back. Also the node's named snapshots (copies of workspace images).
 * Nothing here ever walks the files inside a workspace.
 */
export class SessionWorkspaces {
  constructor(private readonly o: SessionWorkspacesOptions) {}

  /** Prepares the store and the uid registry (fails fast on a host that cannot loop-mount). */
  async start(): Promise<void> {
    await this.o.store.start();
    await this.o.uids.start();
  }

  /** A new empty workspace of `diskMb` (MB) with a uid of its own, mounted. */
  async prepare(sessionId: string, diskMb: number): Promise<SessionDisk> {
    return this.withNewUid(sessionId, async (uid) => ({ uid, mountPoint: await this.o.store.create(sessionId, { diskMb, uid }) }));
  }

  /**
   * Mounts a session's existing workspace (after a deep sleep, a dead container, a reboot) and
   * takes its uid back. If another session holds that uid meanwhile, the workspace gets a new
   * one and its files are re-owned by the agent. `not_found` (reason `workspace_missing`) when
   * the workspace is gone.
   */
  async open(sessionId: string): Promise<SessionDisk> {
    let meta = await this.o.store.meta(sessionId);
    if (!meta) throw missing(sessionId);
    const mountPoint = await this.o.store.mount(sessionId);
    if (!(await this.holds(sessionId, meta.uid)) && !(await this.o.uids.claim(meta.uid, this.owner(sessionId)))) {
      const uid = await this.o.uids.allocate(this.owner(sessionId));
      this.o.log.warn({ sessionId, was: meta.uid, uid }, 'the workspace uid is held by another session; moving it to a new uid');
      meta = await this.o.store.reassign(sessionId, uid);
    }
    return { uid: meta.uid, mountPoint, reownFrom: meta.reownFrom };
  }

  /** The agent re-owned the files of a copied workspace. */
  adopted(sessionId: string): Promise<void> {
    return this.o.store.adopted(sessionId);
  }

  /** Unmounts a workspace (its container is gone); image and uid stay. */
  close(sessionId: string): Promise<void> {
    return this.o.store.unmount(sessionId);
  }

  /** Deletes a workspace and frees its uid: only for a session positively gone (delete, expiry). */
  async destroy(sessionId: string): Promise<void> {
    const meta = await this.o.store.meta(sessionId).catch(() => undefined);
    await this.o.store.remove(sessionId);
    if (meta) await this.o.uids.release(meta.uid, this.owner(sessionId));
    await this.claimed(sessionId);
  }

  /** A new workspace for `dstId`, a copy of `srcId`'s at this instant, with a uid of its own. */
  fork(srcId: string, dstId: string): Promise<SessionDisk> {
    return this.withNewUid(dstId, async (uid) => {
      const mountPoint = await this.o.store.copy(srcId, dstId, { uid });
      return { uid, mountPoint, reownFrom: (await this.o.store.meta(dstId))?.reownFrom };
    });
  }

  /** Copies a session's workspace into the named snapshot `snapshotId`; its size on disk (bytes) and quota (MB). */
  async exportSnapshot(sessionId: string, snapshotId: string): Promise<{ sizeBytes: number; diskMb: number }> {
    const meta = await this.o.store.meta(sessionId);
    if (!meta) throw missing(sessionId);
    await mkdir(this.o.snapshotDir, { recursive: true, mode: 0o700 });
    const file = this.snapshotFile(snapshotId);
    await this.o.store.exportTo(sessionId, file);
    // A sparse copy: what it takes on disk, not the quota it could grow to.
    const st = await stat(file);
    return { sizeBytes: st.blocks * 512, diskMb: meta.diskMb };
  }

  /** A new workspace for `sessionId` from a named snapshot, with a uid of its own. */
  fromSnapshot(snapshotId: string, sessionId: string): Promise<SessionDisk> {
    return this.withNewUid(sessionId, async (uid) => {
      const mountPoint = await this.o.store.importFrom(this.snapshotFile(snapshotId), sessionId, { uid });
      return { uid, mountPoint, reownFrom: (await this.o.store.meta(sessionId))?.reownFrom };
    });
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    const file = this.snapshotFile(snapshotId);
    for (const f of [`${file}.json`, file, `${file}.part`]) await rm(f, { force: true });
  }

  /** Records that `sessionId`'s workspace is not a session's yet (see `unclaimedDir`). */
  async unclaimed(sessionId: string): Promise<void> {
    await mkdir(this.o.unclaimedDir, { recursive: true, mode: 0o700 });
    await writeFile(join(this.o.unclaimedDir, checkId(sessionId)), '', { mode: 0o600 });
  }

  /** `sessionId`'s record is about to be written: its workspace is the session's from now on. */
  async claimed(sessionId: string): Promise<void> {
    await rm(join(this.o.unclaimedDir, checkId(sessionId)), { force: true });
  }

  /** Ids whose workspace was made for a session that was never recorded. */
  async unclaimedIds(): Promise<string[]> {
    return readdir(this.o.unclaimedDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
  }

  /** Runs `make` with a uid newly held for `sessionId`, freeing it again if `make` fails. */
  private async withNewUid(sessionId: string, make: (uid: number) => Promise<SessionDisk>): Promise<SessionDisk> {
    const owner = this.owner(sessionId);
    const uid = await this.o.uids.allocate(owner);
    try {
      return await make(uid);
    } catch (err) {
      await this.o.uids.release(uid, owner).catch((e: unknown) => this.o.log.error({ err: e, uid }, 'could not free a uid'));
      throw err;
    }
  }

  /** True when `sessionId` holds `uid` already (the usual case: a wake writes nothing then). */
  private async holds(sessionId: string, uid: number): Promise<boolean> {
    const owner = await this.o.uids.owner(uid);
    return owner?.nodeId === this.o.nodeId && owner.sessionId === sessionId;
  }

  private owner(sessionId: string): UidOwner {
    return { nodeId: this.o.nodeId, sessionId };
  }

  private snapshotFile(snapshotId: string): string {
    return join(this.o.snapshotDir, `${checkId(snapshotId)}.img`);
  }
}

/** True for the store's "this workspace is gone" (`not_found`, reason `workspace_missing`). */
export function isWorkspaceMissing(err: unknown): boolean {
  return err instanceof BuntimeError && err.code === 'not_found' && err.details.reason === 'workspace_missing';
}

function missing(sessionId: string): BuntimeError {
  return new BuntimeError('not_found', 'no workspace of this session on this node', {
    details: { sessionId, reason: 'workspace_missing' },
  });
}
