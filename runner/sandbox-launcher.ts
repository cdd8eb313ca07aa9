import type { Logger } from '../core/logger.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { AgentClient } from './agent-client.ts';
import { DataPort } from './data-port.ts';
import type { NodeEvents } from './node-events.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { SessionDisk, SessionWorkspaces } from './session-workspaces.ts';

/** A session's running container, its agent and its data channel. */
export interface Sandbox {
  containerId: string;
  agent: AgentClient;
  port: DataPort;
}

export interface SandboxLauncherOptions {
  driver: SandboxDriver;
  workspaces: SessionWorkspaces;
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
  /** `NPM_REGISTRY_URL`, handed to the agent for user programs. */
  npmRegistry?: string;
  /** Told of container starts (metrics). */
  events?: NodeEvents;
}

/**
 * Starts, attaches to and discards session containers: a container is the disposable part of a
 * session, its workspace (bound at /workspace) the lasting one.
 */
export class SandboxLauncher {
  constructor(private readonly o: SandboxLauncherOptions) {}

  /**
   * A data port and a new container on the session's mounted workspace, answering. A copied
   * workspace's files are re-owned by the agent first, before anything else can run there.
   */
  async launch(sessionId: string, disk: SessionDisk, limits: ResourceLimits): Promise<Sandbox> {
    const port = await DataPort.open(this.o.socketDir, sessionId);
    const started = Date.now();
    let sandbox: Sandbox;
    try {
      const { nodeId, image, runtime, pidsLimit, tmpMb, seccompProfile, npmRegistry } = this.o;
      const handle = await this.o.driver.create({
        sessionId, nodeId, image, runtime, uid: disk.uid, limits, pidsLimit, tmpMb, seccompProfile, npmRegistry,
        dataDir: port.hostDir, workspaceDir: disk.mountPoint,
      });
      this.o.events?.containerCreated(Date.now() - started);
      sandbox = { containerId: handle.containerId, agent: new AgentClient(handle.channel, port), port };
    } catch (err) {
      await port.destroy().catch(() => {});
      throw err;
    }
    if (disk.reownFrom !== undefined) await this.reown(sessionId, sandbox, disk.reownFrom);
    return sandbox;
  }

  /**
   * Attaches to a session's existing container (thawing or starting it if needed). Runs in
   * flight there belonged to a channel that is gone (a runner that died): their callers were
   * told they failed, so they are ended (`reset`), never left running unowned.
   */
  async attach(sessionId: string, containerId: string): Promise<Sandbox> {
    const port = await DataPort.open(this.o.socketDir, sessionId);
    try {
      const handle = await this.o.driver.connect(containerId);
      const agent = new AgentClient(handle.channel, port);
      const { killed } = await agent.call('reset', {});
      if (killed.length > 0) this.o.log.warn({ sessionId, killed }, 'killed executions orphaned by a lost channel');
      return { containerId, agent, port };
    } catch (err) {
      await port.close().catch(() => {});
      throw err;
    }
  }

  /** Closes the channel and data port and removes the container; the workspace is untouched. */
  async discard(sandbox: Sandbox, why = 'discarded'): Promise<void> {
    sandbox.agent.close(why);
    await sandbox.port.destroy().catch(() => {});
    await this.o.driver.remove(sandbox.containerId);
  }

  /** Closes the channel and data port only: the container runs on for the next runner. */
  async release(sandbox: Sandbox, why: string): Promise<void> {
    sandbox.agent.close(why);
    await sandbox.port.close().catch(() => {});
  }

  private async reown(sessionId: string, sandbox: Sandbox, fromUid: number): Promise<void> {
    try {
      const entries = await sandbox.agent.reown(fromUid);
      await this.o.workspaces.adopted(sessionId);
      this.o.log.info({ sessionId, fromUid, entries }, 'copied workspace re-owned');
    } catch (err) {
      await this.discard(sandbox, 'reown failed').catch(() => {});
      throw err;
    }
  }
}
