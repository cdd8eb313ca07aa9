import type { Logger } from '../core/logger.ts';
import type { NewSessionPayload } from '../core/queues.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { newSessionId, type SessionStore } from '../core/session-store.ts';
import type { Sandbox, SandboxLauncher } from './sandbox-launcher.ts';
import type { Sandboxes } from './sandboxes.ts';
import type { SessionDisk, SessionWorkspaces } from './session-workspaces.ts';
import { WarmPool, type WarmSandbox } from './warm-pool.ts';

/** What a node answers when it made a session. */
export interface MadeSession {
  sessionId: string;
  nodeId: string;
  containerId: string;
}

export interface SessionFactoryOptions {
  store: SessionStore;
  sandboxes: Sandboxes;
  launcher: SandboxLauncher;
  workspaces: SessionWorkspaces;
  log: Logger;
  nodeId: string;
  /** Shape (the plans' default limits) and size of the warm pool. */
  warmShape: ResourceLimits;
  warmPoolSize: number;
}

/**
 * Makes new sessions on this node: empty (from the warm pool when the shape matches), as a fork
 * of a session here, or from a named snapshot kept here. Each gets a workspace and a uid of its
 * own and a running container before its record is written; a workspace made for a session
 * that never got its record is marked unclaimed until then, so a runner that dies half-way
 * leaves nothing that {@link recover} cannot tell apart from a session.
 */
export class SessionFactory {
  private readonly pool: WarmPool;

  constructor(private readonly o: SessionFactoryOptions) {
    this.pool = new WarmPool({
      make: (id, limits) => this.start(id, limits, () => o.workspaces.prepare(id, limits.disk)),
      shape: o.warmShape, size: o.warmPoolSize, log: o.log,
    });
  }

  /** Spares held (ready or starting): they count against the node's capacity. */
  get count(): number {
    return this.pool.count;
  }

  /** Warm sandboxes ready to be handed out. */
  get warmReady(): number {
    return this.pool.readyCount;
  }

  /** True for the id of a spare the pool holds (the janitor must leave it alone). */
  busy(sessionId: string): boolean {
    return this.pool.owns(sessionId);
  }

  /** Starts filling the warm pool (in the background). */
  warmUp(): void {
    void this.pool.fill();
  }

  /**
   * Removes the workspaces (and frees the uids) a runner that died left unclaimed: spares and
   * creates that never got their record. Their containers are the janitor's orphans.
   */
  async recover(): Promise<number> {
    const ids = await this.o.workspaces.unclaimedIds();
    for (const id of ids) {
      if (await this.o.store.get(id)) await this.o.workspaces.claimed(id);
      else await this.o.workspaces.destroy(id);
    }
    return ids.length;
  }

  /** An empty session: a warm sandbox of the right shape if one is ready, else a new one. */
  async create(p: NewSessionPayload): Promise<MadeSession> {
    const warm = this.pool.take(p.resourceLimits);
    if (warm) return this.commit(warm, p);
    return this.make(p, (id) => this.o.workspaces.prepare(id, p.resourceLimits.disk));
  }

  /** A session whose workspace is a copy of `sourceId`'s at this instant (processes are not copied). */
  fork(sourceId: string, p: NewSessionPayload): Promise<MadeSession> {
    return this.make(p, async (id) => {
      try {
        return await this.o.workspaces.fork(sourceId, id);
      } catch (err) {
        throw await this.o.sandboxes.lostIfMissing(sourceId, err);
      }
    });
  }

  /** A session whose workspace is a copy of the named snapshot `snapshotId`. */
  fromSnapshot(snapshotId: string, p: NewSessionPayload): Promise<MadeSession> {
    return this.make(p, (id) => this.o.workspaces.fromSnapshot(snapshotId, id));
  }

  /** A new session id, its workspace from `makeDisk`, a container on it, its record: marked starting throughout. */
  private make(p: NewSessionPayload, makeDisk: (id: string) => Promise<SessionDisk>): Promise<MadeSession> {
    const id = newSessionId();
    return this.o.sandboxes.whileStarting(id, async () => this.commit(await this.start(id, p.resourceLimits, () => makeDisk(id)), p));
  }

  /** Stops the warm pool: its spares go, containers, workspaces and uids. */
  async stop(): Promise<void> {
    for (const warm of await this.pool.drain()) await this.dispose(warm.sessionId, warm.sandbox, 'runner stopping');
  }

  /** A workspace (from `makeDisk`) and a container on it for session `id`, unclaimed. */
  private start(id: string, limits: ResourceLimits, makeDisk: () => Promise<SessionDisk>): Promise<WarmSandbox> {
    return this.o.sandboxes.whileStarting(id, async () => {
      await this.o.workspaces.unclaimed(id);
      let disk: SessionDisk;
      try {
        disk = await makeDisk();
      } catch (err) {
        await this.o.workspaces.claimed(id);
        throw err;
      }
      try {
        return { sessionId: id, uid: disk.uid, sandbox: await this.o.launcher.launch(id, disk, limits) };
      } catch (err) {
        await this.o.workspaces.destroy(id).catch((e: unknown) => this.o.log.error({ err: e, sessionId: id }, 'workspace cleanup failed'));
        throw err;
      }
    });
  }

  /** Writes the record of a session whose sandbox runs; on failure everything of it goes again. */
  private commit(warm: WarmSandbox, p: NewSessionPayload): Promise<MadeSession> {
    const { sessionId, uid, sandbox } = warm;
    const { nodeId } = this.o;
    return this.o.sandboxes.whileStarting(sessionId, async () => {
      try {
        await this.o.workspaces.claimed(sessionId);
        await this.o.store.put({
          sessionId, account: p.account, nodeId, containerId: sandbox.containerId, uid,
          createdAt: p.createdAt, expiresAt: p.expiresAt, lastActive: p.createdAt, state: 'active',
          metadata: p.metadata, resourceLimits: p.resourceLimits, network: p.network, filesCount: 0, activeProcesses: 0,
        }, p.slotId);
      } catch (err) {
        await this.dispose(sessionId, sandbox, 'create failed');
        throw err;
      }
      // Egress opens only now: a warm sandbox has no session, hence no policy, before this.
      this.o.sandboxes.adopt({ sessionId, account: p.account, network: p.network }, sandbox);
      return { sessionId, nodeId, containerId: sandbox.containerId };
    });
  }

  private async dispose(sessionId: string, sandbox: Sandbox, why: string): Promise<void> {
    try {
      await this.o.launcher.discard(sandbox, why);
      await this.o.workspaces.destroy(sessionId);
    } catch (err) {
      this.o.log.error({ err, sessionId }, 'could not remove a sandbox that never became a session');
    }
  }
}
