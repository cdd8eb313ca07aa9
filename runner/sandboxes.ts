import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { SessionRecord, SessionStore } from '../core/session-store.ts';
import type { AgentClient } from './agent-client.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { SessionEgress } from './session-egress.ts';
import type { Sandbox, SandboxLauncher } from './sandbox-launcher.ts';
import { isWorkspaceMissing, type SessionDisk, type SessionWorkspaces } from './session-workspaces.ts';

export type { Sandbox } from './sandbox-launcher.ts';

export interface SandboxesOptions {
  driver: SandboxDriver;
  store: SessionStore;
  launcher: SandboxLauncher;
  workspaces: SessionWorkspaces;
  /** Where sessions' egress connections go (the node's policy proxy). */
  egress: SessionEgress;
  /** Told of wakes (metrics, webhooks). */
  events?: NodeEvents;
  log: Logger;
  nodeId: string;
}

/**
 * The running sandboxes of the sessions this node hosts: one agent client per session, and the
 * way back to one whatever happened to the container. A container is disposable, the workspace
 * is not: a container that is gone, stopped, killed or OOM-killed (also by an engine restart or
 * a reboot) is replaced on the next request by a new one on the same workspace and uid; a
 * deep-sleeping session wakes the same way. A workspace that is really gone makes the session
 * `lost`, never an empty `active` one. Lifecycle (idle, deep sleep) and the janitor drive it
 * from outside; new sessions come from the session factory.
 */
export class Sandboxes {
  private readonly live = new Map<string, Promise<Sandbox>>();
  /** Sessions whose container or workspace is being made, and how many steps hold each. */
  private readonly starting = new Map<string, number>();

  constructor(private readonly o: SandboxesOptions) {}

  /** Sessions with a sandbox held or being made here: they count against the node's capacity. */
  get count(): number {
    return new Set([...this.live.keys(), ...this.starting.keys()]).size;
  }

  /** True while a container of `sessionId` is being made: the janitor leaves it alone. */
  busy(sessionId: string): boolean {
    return this.starting.has(sessionId);
  }

  /**
   * Runs `fn` with `sessionId` marked as starting (its container must not be reaped meanwhile).
   * Marks nest: a session made in several steps stays marked from the first to the last.
   */
  async whileStarting<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    this.starting.set(sessionId, (this.starting.get(sessionId) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = (this.starting.get(sessionId) ?? 1) - 1;
      if (left > 0) this.starting.set(sessionId, left);
      else this.starting.delete(sessionId);
    }
  }

  /** Takes a new session's running sandbox in; its egress opens now (a session has a policy). */
  adopt(rec: Pick<SessionRecord, 'sessionId' | 'account' | 'network'>, sandbox: Sandbox): void {
    this.o.egress.route(sandbox.port, rec);
    this.live.set(rec.sessionId, Promise.resolve(sandbox));
  }

  /**
   * The live agent of a session hosted here, reconnecting or starting a new container if needed.
   * Concurrent callers share one reconnection: the check and the replacement happen with no
   * await between.
   */
  async agent(sessionId: string): Promise<AgentClient> {
    for (;;) {
      const cached = this.live.get(sessionId);
      if (cached) {
        const sandbox = await cached.catch(() => undefined);
        if (sandbox?.agent.alive) return sandbox.agent;
        // Replaced meanwhile by another caller: use that one.
        if (this.live.get(sessionId) !== cached) continue;
        if (sandbox) void this.o.launcher.release(sandbox, 'channel lost');
      }
      const connecting = this.record(sessionId).then((rec) => this.reconnect(rec));
      this.live.set(sessionId, connecting);
      connecting.catch(() => {
        if (this.live.get(sessionId) === connecting) this.live.delete(sessionId);
      });
      return (await connecting).agent;
    }
  }

  /** The container the session runs in now, if any. */
  async containerOf(sessionId: string): Promise<string | undefined> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    return sandbox?.containerId ?? ((await this.o.store.get(sessionId))?.containerId || undefined);
  }

  /** Drops a session's sandbox: its channel, data port and container. The workspace stays. */
  async drop(sessionId: string, containerId?: string): Promise<void> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    this.live.delete(sessionId);
    this.o.egress.close(sessionId);
    if (sandbox) await this.o.launcher.discard(sandbox, 'session dropped');
    const other = containerId && containerId !== sandbox?.containerId ? containerId : undefined;
    if (other) await this.o.driver.remove(other);
  }

  /** Removes a session whole: its sandbox, then its workspace and uid (a positive delete or expiry). */
  async destroy(sessionId: string, containerId?: string): Promise<void> {
    await this.drop(sessionId, containerId);
    await this.o.workspaces.destroy(sessionId);
  }

  /**
   * Kills a session's container (everything in it stops at once) and forgets its channel; the
   * next use starts a new container on the same workspace. For a sandbox nothing else can reach
   * (the timeout backstop under gVisor).
   */
  async restart(sessionId: string): Promise<void> {
    const sandbox = await this.live.get(sessionId)?.catch(() => undefined);
    this.live.delete(sessionId);
    const containerId = sandbox?.containerId ?? (await this.containerOf(sessionId));
    if (containerId) await this.o.driver.kill(containerId);
    if (sandbox) await this.o.launcher.release(sandbox, 'sandbox restarted');
  }

  /**
   * Deep sleep: the container goes, the workspace is unmounted (its image stays on disk, its
   * uid held): state `deep-sleep`. The next request wakes it in a new container.
   */
  async deepSleep(sessionId: string): Promise<void> {
    const rec = await this.record(sessionId);
    // A paused container is thawed before Docker stops it; one that is gone already is fine.
    if (rec.containerId) await this.o.driver.unpause(rec.containerId).catch(() => undefined);
    await this.drop(sessionId, rec.containerId || undefined);
    await this.o.workspaces.close(sessionId);
    await this.o.store.setSandbox(sessionId, '', 'deep-sleep');
    this.o.log.info({ sessionId }, 'session in deep sleep');
  }

  /** Closes every channel; session containers and workspaces stay for the next runner. */
  async stop(): Promise<void> {
    for (const p of this.live.values()) {
      const sandbox = await p.catch(() => undefined);
      if (sandbox) await this.o.launcher.release(sandbox, 'runner stopping');
    }
    this.live.clear();
  }

  /** The session's record if it is live and hosted here; `session_not_found` otherwise. */
  async record(sessionId: string): Promise<SessionRecord> {
    const rec = await this.o.store.get(sessionId);
    if (!rec || rec.nodeId !== this.o.nodeId || rec.expiresAt <= Date.now()) {
      throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId } });
    }
    return rec;
  }

  /** Maps "the workspace is gone" to the session being `lost` (recorded) and `session_lost`. */
  async lostIfMissing(sessionId: string, err: unknown): Promise<unknown> {
    if (!isWorkspaceMissing(err)) return err;
    await this.o.store.setLost(sessionId, 'workspace_missing');
    this.o.log.error({ sessionId }, 'the session workspace is gone: session lost');
    return new BuntimeError('session_lost', 'the session\'s files are gone from its node; only DELETE is left', {
      details: { sessionId, lostReason: 'workspace_missing' },
    });
  }

  private async reconnect(rec: SessionRecord): Promise<Sandbox> {
    const diagnosis = rec.containerId ? await this.o.driver.diagnose(rec.containerId) : undefined;
    if (diagnosis?.running) {
      const sandbox = await this.o.launcher.attach(rec.sessionId, rec.containerId);
      this.o.egress.route(sandbox.port, rec);
      return sandbox;
    }
    if (rec.containerId) {
      this.o.log.warn({ sessionId: rec.sessionId, found: diagnosis ? 'stopped' : 'gone', oomKilled: diagnosis?.oomKilled },
        'session container is not running; starting a new one on the same workspace');
    }
    return this.revive(rec);
  }

  /** A new container on the session's workspace (mounted again if needed), same uid. */
  private revive(rec: SessionRecord): Promise<Sandbox> {
    return this.whileStarting(rec.sessionId, async () => {
      const started = performance.now();
      if (rec.containerId) await this.o.driver.remove(rec.containerId);
      const disk = await this.openWorkspace(rec.sessionId);
      const mountedMs = performance.now() - started;
      const sandbox = await this.o.launcher.launch(rec.sessionId, disk, rec.resourceLimits);
      this.o.egress.route(sandbox.port, rec);
      this.o.log.info({ sessionId: rec.sessionId, mountedMs: Math.round(mountedMs), readyMs: Math.round(performance.now() - started) },
        'session started on its workspace');
      const uid = disk.uid !== rec.uid ? disk.uid : undefined;
      if (!(await this.o.store.setSandbox(rec.sessionId, sandbox.containerId, 'active', uid))) {
        // Deleted while it woke: nothing of it may outlive the delete.
        await this.o.launcher.discard(sandbox, 'session deleted');
        throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId: rec.sessionId } });
      }
      if (rec.state === 'deep-sleep') {
        this.o.events?.session('session.woke', rec.sessionId, {
          account: rec.account, from: 'deep-sleep', durationMs: Math.round(performance.now() - started),
        });
      }
      return sandbox;
    });
  }

  private async openWorkspace(sessionId: string): Promise<SessionDisk> {
    try {
      return await this.o.workspaces.open(sessionId);
    } catch (err) {
      throw await this.lostIfMissing(sessionId, err);
    }
  }
}
