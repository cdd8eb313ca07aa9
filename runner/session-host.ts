import type { Redis } from 'ioredis';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Payload } from '../core/queues.ts';
import type { SessionJobs } from '../core/queues.ts';
import type { Keys } from '../core/redis.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { newSessionId, type SessionRecord, type SessionStore } from '../core/session-store.ts';
import type { AgentChannel } from './agent-channel.ts';
import { IdleKeeper } from './idle-keeper.ts';
import { SnapshotStore } from './snapshot-store.ts';
import { WarmPool, type WarmSandbox } from './warm-pool.ts';
import type { Sandbox, SandboxDriver } from './sandbox-driver.ts';

export interface HostOptions {
  nodeId: string;
  image: string;
  runtime: string;
  pidsLimit: number;
  tmpMb: number;
  /** Seccomp profile of session containers, Docker's JSON format. */
  seccompProfile: string;
  /** A session unused this long is paused (state `idle`), ms. */
  idleAfterMs: number;
  /** A session unused this long is snapshotted and its container removed (`deep-sleep`), ms. */
  sleepAfterMs: number;
  /** Where workspace snapshots of deep-sleeping sessions are kept. */
  snapshotDir: string;
  /** Shape (the plans' default limits) and size of the warm pool. */
  warmShape: ResourceLimits;
  warmPoolSize: number;
}

/** First uid handed to session users; far above any uid the host's own accounts use. */
const UID_BASE = 200_000;
const UID_RANGE = 800_000;

/**
 * The sessions this node hosts: creates their containers, keeps one agent channel per session,
 * reconnects after a runner restart or an agent crash, deletes and expires them, and removes
 * containers that belong to no known session.
 */
export class SessionHost {
  private readonly sandboxes = new Map<string, Promise<Sandbox>>();
  private readonly creating = new Set<string>();
  private readonly idle: IdleKeeper;
  private readonly pool: WarmPool;
  private readonly snapshots: SnapshotStore;

  constructor(
    private readonly driver: SandboxDriver,
    private readonly store: SessionStore,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly opts: HostOptions,
    private readonly log: Logger,
  ) {
    this.snapshots = new SnapshotStore(opts.snapshotDir);
    this.idle = new IdleKeeper(driver, store, (id) => this.containerIdOf(id), opts.idleAfterMs, opts.sleepAfterMs,
      (id) => this.deepSleep(id), log);
    this.pool = new WarmPool((id, limits) => this.startSandbox(id, limits), opts.warmShape, opts.warmPoolSize, log);
  }

  /** Runs `fn` with the session's agent channel, waking the session first if it is idle. */
  use<T>(sessionId: string, fn: (channel: AgentChannel) => Promise<T>): Promise<T> {
    return this.idle.use(sessionId, async () => fn(await this.channel(sessionId)));
  }

  /** Pauses sessions unused for IDLE_AFTER and sends to deep sleep those unused for SLEEP_AFTER. */
  sleepIdle(): Promise<number> {
    return this.idle.sweep();
  }

  get count(): number {
    return this.sandboxes.size + this.creating.size + this.pool.count;
  }

  /** Creates a session: a warm sandbox of the right shape if one is ready, else a new one. */
  async create(p: Payload<SessionJobs, 'create'>): Promise<{ sessionId: string; nodeId: string; containerId: string }> {
    const warm = this.pool.take(p.resourceLimits) ?? await this.startSandbox(newSessionId(), p.resourceLimits);
    const { sessionId, uid, sandbox } = warm;
    const { nodeId } = this.opts;
    this.creating.add(sessionId);
    try {
      await this.store.put({
        sessionId, account: p.account, nodeId, containerId: sandbox.containerId, uid,
        createdAt: p.createdAt, expiresAt: p.expiresAt, lastActive: p.createdAt, state: 'active',
        metadata: p.metadata, resourceLimits: p.resourceLimits,
      }, p.slotId);
      this.sandboxes.set(sessionId, Promise.resolve(sandbox));
      this.idle.track(sessionId);
      return { sessionId, nodeId, containerId: sandbox.containerId };
    } catch (err) {
      await this.driver.remove(sandbox.containerId).catch(() => {});
      throw err;
    } finally {
      this.creating.delete(sessionId);
    }
  }

  /** Warm sandboxes ready to be handed out. */
  get warmReady(): number {
    return this.pool.readyCount;
  }

  /** Starts filling the warm pool (in the background). */
  warmUp(): void {
    void this.pool.fill();
  }

  /** Starts a sandbox for `sessionId` with a uid of its own. */
  private async startSandbox(sessionId: string, limits: ResourceLimits): Promise<WarmSandbox> {
    this.creating.add(sessionId);
    try {
      const uid = UID_BASE + ((await this.redis.incr(this.keys.uidSeq())) % UID_RANGE);
      const { nodeId, image, runtime, pidsLimit, tmpMb, seccompProfile } = this.opts;
      const sandbox = await this.driver.create({ sessionId, nodeId, image, runtime, uid, limits, pidsLimit, tmpMb, seccompProfile });
      return { sessionId, uid, sandbox };
    } finally {
      this.creating.delete(sessionId);
    }
  }

  /** The live agent channel of a session hosted here, reconnecting if needed. */
  async channel(sessionId: string): Promise<AgentChannel> {
    const cached = this.sandboxes.get(sessionId);
    if (cached) {
      const sandbox = await cached.catch(() => undefined);
      if (sandbox?.channel.alive) return sandbox.channel;
    }
    const rec = await this.record(sessionId);
    const connecting = this.reconnect(rec);
    this.sandboxes.set(sessionId, connecting);
    connecting.catch(() => this.sandboxes.delete(sessionId));
    return (await connecting).channel;
  }

  /** True while the session has a record (it was not deleted or expired). */
  async exists(sessionId: string): Promise<boolean> {
    return (await this.store.get(sessionId)) !== undefined;
  }

  /** True when the session's container was stopped by the kernel's OOM killer. */
  async oomKilled(sessionId: string): Promise<boolean> {
    const rec = await this.store.get(sessionId);
    const d = rec ? await this.driver.diagnose(rec.containerId) : undefined;
    return d?.oomKilled ?? false;
  }

  /**
   * Deletes a session: its record and slot first (requests in flight then see it gone and
   * answer 404), then at once its container and snapshot.
   */
  async delete(sessionId: string): Promise<boolean> {
    const rec = await this.store.get(sessionId);
    const removed = rec ? await this.store.remove(rec) : false;
    const sandbox = await this.sandboxes.get(sessionId)?.catch(() => undefined);
    this.sandboxes.delete(sessionId);
    this.idle.forget(sessionId);
    sandbox?.channel.close('session deleted');
    await this.snapshots.remove(sessionId);
    const containerId = sandbox?.containerId ?? rec?.containerId;
    if (containerId) await this.driver.remove(containerId);
    return removed;
  }


  /** Deletes every hosted session whose expiry is due. */
  async expireDue(): Promise<number> {
    const due = await this.store.dueForExpiry(this.opts.nodeId);
    for (const id of due) {
      const deleted = await this.delete(id);
      if (!deleted) await this.store.forgetExpiry(this.opts.nodeId, id);
      this.log.info({ sessionId: id }, 'session expired');
    }
    return due.length;
  }

  /** Removes containers of this node that no live session owns (after a crash or restart). */
  async reapOrphans(): Promise<number> {
    let removed = 0;
    for (const c of await this.driver.list(this.opts.nodeId)) {
      if (this.creating.has(c.sessionId) || this.pool.owns(c.sessionId)) continue;
      const rec = c.sessionId ? await this.store.get(c.sessionId) : undefined;
      if (rec && rec.nodeId === this.opts.nodeId && rec.containerId === c.containerId) continue;
      await this.driver.remove(c.containerId);
      this.sandboxes.delete(c.sessionId);
      removed++;
    }
    return removed;
  }

  /**
   * Removes the warm sandboxes and closes every channel; session containers keep running for
   * the next runner to reconnect to.
   */
  async stop(): Promise<void> {
    // Warm sandboxes belong to no session: they go; session containers stay.
    for (const warm of await this.pool.drain()) {
      warm.sandbox.channel.close('runner stopping');
      await this.driver.remove(warm.sandbox.containerId).catch(() => {});
    }
    for (const p of this.sandboxes.values()) {
      const sandbox = await p.catch(() => undefined);
      sandbox?.channel.close('runner stopping');
    }
    this.sandboxes.clear();
  }

  private async containerIdOf(sessionId: string): Promise<string | undefined> {
    const sandbox = await this.sandboxes.get(sessionId)?.catch(() => undefined);
    return sandbox?.containerId ?? (await this.store.get(sessionId))?.containerId;
  }

  private async record(sessionId: string): Promise<SessionRecord> {
    const rec = await this.store.get(sessionId);
    if (!rec || rec.nodeId !== this.opts.nodeId || rec.expiresAt <= Date.now()) {
      throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId } });
    }
    return rec;
  }

  /** Snapshots an idle session's workspace, then removes its container: state `deep-sleep`. */
  private async deepSleep(sessionId: string): Promise<void> {
    const rec = await this.record(sessionId);
    await this.driver.unpause(rec.containerId);
    const channel = await this.channel(sessionId);
    const bytes = await this.snapshots.save(channel, sessionId);
    this.sandboxes.delete(sessionId);
    channel.close('deep sleep');
    await this.driver.remove(rec.containerId);
    await this.store.setSandbox(sessionId, '', 'deep-sleep');
    // Deleted meanwhile (deletes do not wait for lifecycle transitions): drop the snapshot too.
    if (!(await this.store.get(sessionId))) await this.snapshots.remove(sessionId);
    this.log.info({ sessionId, bytes }, 'session in deep sleep');
  }

  /** A new sandbox for a deep-sleeping session, its workspace restored from the snapshot. */
  private async revive(rec: SessionRecord): Promise<Sandbox> {
    const { nodeId, image, runtime, pidsLimit, tmpMb, seccompProfile } = this.opts;
    this.creating.add(rec.sessionId);
    try {
      const sandbox = await this.driver.create({
        sessionId: rec.sessionId, nodeId, image, runtime, uid: rec.uid, limits: rec.resourceLimits, pidsLimit, tmpMb, seccompProfile,
      });
      await this.snapshots.restore(sandbox.channel, rec.sessionId);
      await this.store.setSandbox(rec.sessionId, sandbox.containerId, 'active');
      await this.snapshots.remove(rec.sessionId);
      return sandbox;
    } finally {
      this.creating.delete(rec.sessionId);
    }
  }

  private async reconnect(rec: SessionRecord): Promise<Sandbox> {
    if (rec.state === 'deep-sleep') return this.revive(rec);
    const diagnosis = await this.driver.diagnose(rec.containerId);
    if (diagnosis && !diagnosis.running) {
      this.log.warn({ sessionId: rec.sessionId, oomKilled: diagnosis.oomKilled }, 'sandbox stopped; restarting it');
    }
    if (!diagnosis) {
      await this.store.remove(rec);
      throw new BuntimeError('session_not_found', 'the session container is gone', {
        details: { sessionId: rec.sessionId },
      });
    }
    return this.driver.connect(rec.containerId);
  }
}
