import type { Redis } from 'ioredis';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Payload, SessionJobs } from '../core/queues.ts';
import type { Keys } from '../core/redis.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { newSessionId, type SessionRecord, type SessionStore } from '../core/session-store.ts';
import { AgentClient } from './agent-client.ts';
import { DataPort } from './data-port.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { SessionEgress } from './session-egress.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import { WarmPool, type WarmSandbox } from './warm-pool.ts';

/** A session's running container, its agent and its data channel. */
export interface Sandbox {
  containerId: string;
  agent: AgentClient;
  port: DataPort;
}

export interface SandboxesOptions {
  driver: SandboxDriver;
  store: SessionStore;
  redis: Redis;
  keys: Keys;
  snapshots: SnapshotStore;
  log: Logger;
  nodeId: string;
  image: string;
  /** OCI runtime name, `runc` or `runsc`. */
  runtime: string;
  pidsLimit: number;
  /** Size of each session's /tmp, MB. */
  tmpMb: number;
  /** Seccomp profile of session containers, Docker's JSON format. */
  seccompProfile: string;
  /** Host directory under which each session's data socket lives. */
  socketDir: string;
  /** Shape (the plans' default limits) and size of the warm pool. */
  warmShape: ResourceLimits;
  warmPoolSize: number;
  /** Told of container starts and revivals (metrics, webhooks). */
  events?: NodeEvents;
  /** Where sessions' egress connections go (the node's policy proxy). */
  egress: SessionEgress;
  /** `NPM_REGISTRY_URL`, handed to the agent for user programs. */
  npmRegistry?: string;
}

/** First uid handed to session users; far above any uid the host's own accounts use. */
const UID_BASE = 200_000;
const UID_RANGE = 800_000;

/**
 * The sandboxes this node owns: creates session containers (or hands out warm ones), keeps one
 * agent client per session, reconnects after a runner restart or an agent crash, revives
 * deep-sleeping sessions, deletes them. Lifecycle (idle, deep sleep) and the janitor drive it
 * from outside.
 */
export class Sandboxes {
  private readonly live = new Map<string, Promise<Sandbox>>();
  private readonly creating = new Set<string>();
  private readonly pool: WarmPool;

  constructor(private readonly o: SandboxesOptions) {
    this.pool = new WarmPool({
      make: (id, limits) => this.start(id, limits), shape: o.warmShape, size: o.warmPoolSize, log: o.log,
    });
  }

  /** Sessions and spares held: they count against the node's capacity. */
  get count(): number {
    return this.live.size + this.creating.size + this.pool.count;
  }

  /** Warm sandboxes ready to be handed out. */
  get warmReady(): number {
    return this.pool.readyCount;
  }

  /** Starts filling the warm pool (in the background). */
  warmUp(): void {
    void this.pool.fill();
  }

  /** True while `sessionId` is being made or held by the pool: the janitor leaves it alone. */
  busy(sessionId: string): boolean {
    return this.creating.has(sessionId) || this.pool.owns(sessionId);
  }

  /** Creates a session: a warm sandbox of the right shape if one is ready, else a new one. */
  async create(p: Payload<SessionJobs, 'create'>): Promise<{ sessionId: string; nodeId: string; containerId: string }> {
    const warm = this.pool.take(p.resourceLimits) ?? await this.start(newSessionId(), p.resourceLimits);
    const { sessionId, uid, sandbox } = warm;
    const { nodeId } = this.o;
    this.creating.add(sessionId);
    try {
      await this.o.store.put({
        sessionId, account: p.account, nodeId, containerId: sandbox.containerId, uid,
        createdAt: p.createdAt, expiresAt: p.expiresAt, lastActive: p.createdAt, state: 'active',
        metadata: p.metadata, resourceLimits: p.resourceLimits, network: p.network, filesCount: 0, activeProcesses: 0,
      }, p.slotId);
      // Egress opens only now: a warm sandbox has no session, hence no policy, before this.
      this.o.egress.route(sandbox.port, { sessionId, account: p.account, network: p.network });
      this.live.set(sessionId, Promise.resolve(sandbox));
      return { sessionId, nodeId, containerId: sandbox.containerId };
    } catch (err) {
      await this.discard(sandbox);
      throw err;
    } finally {
      this.creating.delete(sessionId);
    }
  }

  /**
   * The live agent of a session hosted here, reconnecting (or reviving it) if needed. Concurrent
   * callers share one reconnection: the check and the replacement happen with no await between.
   */
  async agent(sessionId: string): Promise<AgentClient> {
    for (;;) {
      const cached = this.live.get(sessionId);
      if (cached) {
        const sandbox = await cached.catch(() => undefined);
        if (sandbox?.agent.alive) return sandbox.agent;
        // Replaced meanwhile by another caller: use that one.
        if (this.live.get(sessionId) !== cached) continue;
        void sandbox?.port.close().catch(() => {});
      }
      const connecting = this.record(sessionId).then((rec) => this.reconnect(rec));
      this.live.set(sessionId, connecting);
      connecting.catch(() => { if (this.live.get(sessionId) === connecting) this.live.delete(sessionId); });
      return (await connecting).agent;
    }
  }

  /** The container the session runs in now, if any. */
  async containerOf(sessionId: string): Promise<string | undefined> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    return sandbox?.containerId ?? ((await this.o.store.get(sessionId))?.containerId || undefined);
  }

  /** Drops a session's sandbox: its channel, data port and container (the record is the caller's). */
  async drop(sessionId: string, containerId?: string): Promise<void> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    this.live.delete(sessionId);
    this.o.egress.close(sessionId);
    if (sandbox) await this.discard(sandbox, 'session deleted');
    const other = containerId && containerId !== sandbox?.containerId ? containerId : undefined;
    if (other) await this.o.driver.remove(other);
  }

  /**
   * Kills a session's container (everything in it stops at once) and forgets its channel; the
   * next use starts the same container again. For a sandbox nothing else can reach (the timeout
   * backstop under gVisor); what lives only in the container (a tmpfs workspace, /tmp) is lost.
   */
  async restart(sessionId: string): Promise<void> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    this.live.delete(sessionId);
    const containerId = sandbox?.containerId ?? (await this.containerOf(sessionId));
    if (containerId) await this.o.driver.kill(containerId);
    sandbox?.agent.close('sandbox restarted');
    await sandbox?.port.close().catch(() => {});
  }

  /** Snapshots an idle session's workspace, then removes its container: state `deep-sleep`. */
  async deepSleep(sessionId: string): Promise<void> {
    const rec = await this.record(sessionId);
    await this.o.driver.unpause(rec.containerId);
    const agent = await this.agent(sessionId);
    const bytes = await this.o.snapshots.save(agent, sessionId);
    await this.drop(sessionId, rec.containerId);
    await this.o.store.setSandbox(sessionId, '', 'deep-sleep');
    // Deleted meanwhile (deletes do not wait for lifecycle transitions): drop the snapshot too.
    if (!(await this.o.store.get(sessionId))) await this.o.snapshots.remove(sessionId);
    this.o.log.info({ sessionId, bytes }, 'session in deep sleep');
  }

  /** Stops the warm pool (its spares go) and closes every channel; session containers stay. */
  async stop(): Promise<void> {
    for (const warm of await this.pool.drain()) await this.discard(warm.sandbox, 'runner stopping');
    for (const p of this.live.values()) {
      const sandbox = await p.catch(() => undefined);
      sandbox?.agent.close('runner stopping');
      await sandbox?.port.close().catch(() => {});
    }
    this.live.clear();
  }

  /** Starts a sandbox for `sessionId` with a uid of its own. */
  private async start(sessionId: string, limits: ResourceLimits): Promise<WarmSandbox> {
    this.creating.add(sessionId);
    try {
      const uid = UID_BASE + ((await this.o.redis.incr(this.o.keys.uidSeq())) % UID_RANGE);
      return { sessionId, uid, sandbox: await this.launch(sessionId, uid, limits) };
    } finally {
      this.creating.delete(sessionId);
    }
  }

  /** A data port and a new container for the session. */
  private async launch(sessionId: string, uid: number, limits: ResourceLimits): Promise<Sandbox> {
    const port = await DataPort.open(this.o.socketDir, sessionId);
    const started = Date.now();
    try {
      const { nodeId, image, runtime, pidsLimit, tmpMb, seccompProfile, npmRegistry } = this.o;
      const handle = await this.o.driver.create({
        sessionId, nodeId, image, runtime, uid, limits, pidsLimit, tmpMb, seccompProfile, npmRegistry, dataDir: port.hostDir,
      });
      this.o.events?.containerCreated(Date.now() - started);
      return { containerId: handle.containerId, agent: new AgentClient(handle.channel, port), port };
    } catch (err) {
      await port.destroy().catch(() => {});
      throw err;
    }
  }

  private async discard(sandbox: Sandbox, why = 'discarded'): Promise<void> {
    sandbox.agent.close(why);
    await sandbox.port.destroy().catch(() => {});
    await this.o.driver.remove(sandbox.containerId);
  }

  private async record(sessionId: string): Promise<SessionRecord> {
    const rec = await this.o.store.get(sessionId);
    if (!rec || rec.nodeId !== this.o.nodeId || rec.expiresAt <= Date.now()) {
      throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId } });
    }
    return rec;
  }

  /** A new sandbox for a deep-sleeping session, its workspace restored from the snapshot. */
  private async revive(rec: SessionRecord): Promise<Sandbox> {
    this.creating.add(rec.sessionId);
    const started = Date.now();
    try {
      const sandbox = await this.launch(rec.sessionId, rec.uid, rec.resourceLimits);
      this.o.egress.route(sandbox.port, rec);
      await this.o.snapshots.restore(sandbox.agent, rec.sessionId);
      await this.o.store.setSandbox(rec.sessionId, sandbox.containerId, 'active');
      await this.o.snapshots.remove(rec.sessionId);
      this.o.events?.session('session.woke', rec.sessionId, { account: rec.account, from: 'deep-sleep', durationMs: Date.now() - started });
      return sandbox;
    } finally {
      this.creating.delete(rec.sessionId);
    }
  }

  private async reconnect(rec: SessionRecord): Promise<Sandbox> {
    if (rec.state === 'deep-sleep') return this.revive(rec);
    const diagnosis = await this.o.driver.diagnose(rec.containerId);
    if (!diagnosis) {
      await this.o.store.remove(rec);
      throw new BuntimeError('session_not_found', 'the session container is gone', { details: { sessionId: rec.sessionId } });
    }
    if (!diagnosis.running) {
      this.o.log.warn({ sessionId: rec.sessionId, oomKilled: diagnosis.oomKilled }, 'sandbox stopped; restarting it');
    }
    const port = await DataPort.open(this.o.socketDir, rec.sessionId);
    this.o.egress.route(port, rec);
    try {
      const handle = await this.o.driver.connect(rec.containerId);
      const agent = new AgentClient(handle.channel, port);
      // Runs in flight belonged to the channel that is gone (a runner that died): their callers
      // were told they failed, so they must not go on unowned.
      const { killed } = await agent.call('reset', {});
      if (killed.length > 0) this.o.log.warn({ sessionId: rec.sessionId, killed }, 'killed executions orphaned by a lost channel');
      return { containerId: rec.containerId, agent, port };
    } catch (err) {
      await port.close().catch(() => {});
      throw err;
    }
  }
}
