import type { AgentChannel } from './agent-channel.ts';
import type { SandboxSpec } from './container-spec.ts';

/** A running session container and the control channel to its agent. */
export interface ContainerHandle {
  containerId: string;
  channel: AgentChannel;
}

/** What became of a sandbox whose agent stopped answering. */
export interface SandboxDiagnosis {
  running: boolean;
  oomKilled: boolean;
}

/**
 * The seam between the runner and the container engine. The Docker implementation is chosen in
 * the composition root; nothing else in the runner knows about Docker.
 */
export interface SandboxDriver {
  /** Creates, attaches to and starts a session container; resolves once its agent answers. */
  create(spec: SandboxSpec): Promise<ContainerHandle>;
  /** Attaches to an existing container, starting it again if it stopped. */
  connect(containerId: string): Promise<ContainerHandle>;
  /** Removes the container and everything in it at once; absent containers are fine. */
  remove(containerId: string): Promise<void>;
  /** Session containers of a node, running or not, as found by their labels. */
  list(nodeId: string): Promise<Array<{ containerId: string; sessionId: string }>>;
  diagnose(containerId: string): Promise<SandboxDiagnosis | undefined>;
  /** Freezes every process of the container (idle session). */
  pause(containerId: string): Promise<void>;
  /** Thaws a paused container; a container that is not paused is fine. */
  unpause(containerId: string): Promise<void>;
  /** The host pid of the container's main process, for its cgroup; undefined when not running. */
  hostPid(containerId: string): Promise<number | undefined>;
  /** Kills every process of the container at once (it stops; `connect` starts it again). */
  kill(containerId: string): Promise<void>;
}
