import type { Duplex, PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { AgentChannel } from './agent-channel.ts';
import { containerSpec, type SandboxSpec } from './container-spec.ts';
import type { ContainerHandle, SandboxDiagnosis, SandboxDriver } from './sandbox-driver.ts';

const AGENT_READY_MS = 15_000;
const REMOVAL_WAIT_MS = 15_000;

/** {@link SandboxDriver} on a Docker engine through dockerode. Only this file knows Docker's errors. */
export class DockerDriver implements SandboxDriver {
  private readonly docker: Docker;

  constructor(socketPath: string, private readonly log: Logger) {
    this.docker = new Docker({ socketPath });
  }

  async ping(): Promise<void> {
    await this.call(() => this.docker.ping());
  }

  async create(spec: SandboxSpec): Promise<ContainerHandle> {
    const container = await this.call(() => this.docker.createContainer(containerSpec(spec)));
    try {
      const channel = await this.attach(container);
      await this.call(() => container.start());
      await this.ready(channel);
      return { containerId: container.id, channel };
    } catch (err) {
      await this.remove(container.id);
      throw err;
    }
  }

  async connect(containerId: string): Promise<ContainerHandle> {
    const container = this.docker.getContainer(containerId);
    const info = await this.call(() => container.inspect());
    // A runner that stopped while a session was idle leaves its container paused.
    if (info.State.Paused) await this.unpause(containerId);
    const channel = await this.attach(container);
    if (!info.State.Running) await this.call(() => container.start());
    await this.ready(channel);
    return { containerId, channel };
  }

  async remove(containerId: string): Promise<void> {
    const container = this.docker.getContainer(containerId);
    try {
      await container.remove({ force: true, v: true });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) return;
      // 409: someone else (the janitor, a concurrent delete) is removing it: wait until it is gone,
      // so that "removed" always means gone when this returns.
      if (status !== 409) throw mapDockerError(err);
      await this.untilGone(container);
    }
  }

  private async untilGone(container: Docker.Container): Promise<void> {
    const deadline = Date.now() + REMOVAL_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        await container.inspect();
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new BuntimeError('internal_error', 'a container removal did not finish in time');
  }


  async list(nodeId: string): Promise<Array<{ containerId: string; sessionId: string }>> {
    const found = await this.call(() => this.docker.listContainers({
      all: true,
      filters: { label: [`buntime.node=${nodeId}`] },
    }));
    return found.map((c) => ({ containerId: c.Id, sessionId: c.Labels['buntime.session'] ?? '' }));
  }

  async pause(containerId: string): Promise<void> {
    await this.call(() => this.docker.getContainer(containerId).pause());
  }

  async unpause(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).unpause();
    } catch (err) {
      // 409: not paused (e.g. it was restarted meanwhile): nothing to thaw.
      if ((err as { statusCode?: number }).statusCode !== 409) throw mapDockerError(err);
    }
  }

  async hostPid(containerId: string): Promise<number | undefined> {
    const info = await this.call(() => this.docker.getContainer(containerId).inspect());
    return info.State.Running && info.State.Pid > 0 ? info.State.Pid : undefined;
  }

  async kill(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).kill({ signal: 'SIGKILL' });
    } catch (err) {
      // 409: not running; 404: gone. Either way nothing of it runs.
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 409 && status !== 404) throw mapDockerError(err);
    }
  }

  async diagnose(containerId: string): Promise<SandboxDiagnosis | undefined> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return { running: info.State.Running, oomKilled: info.State.OOMKilled };
    } catch {
      return undefined;
    }
  }

  private async attach(container: Docker.Container): Promise<AgentChannel> {
    const stream = (await this.call(() => container.attach({
      stream: true, stdin: true, stdout: true, stderr: true, hijack: true,
    }))) as unknown as Duplex;
    const demux = (src: Duplex, out: PassThrough, err: PassThrough) =>
      this.docker.modem.demuxStream(src, out, err);
    const log = this.log.child({ containerId: container.id.slice(0, 12) });
    return new AgentChannel(stream, demux, (line) => log.warn({ agent: line }, 'agent stderr'));
  }

  private async ready(channel: AgentChannel): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BuntimeError('service_unavailable',
        'the sandbox agent did not start', { retryAfterSec: 5 })), AGENT_READY_MS);
    });
    try {
      await Promise.race([channel.call('ping', {}), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDockerError(err);
    }
  }
}

/** Docker's failures as the service's errors: the engine being away is a 503, the rest a 500. */
function mapDockerError(err: unknown): BuntimeError {
  if (err instanceof BuntimeError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EACCES') {
    return new BuntimeError('service_unavailable', 'the container engine is unreachable', {
      cause: err, retryAfterSec: 5,
    });
  }
  if (e.statusCode === 404 && /image/i.test(e.message ?? '')) {
    return new BuntimeError('service_unavailable', 'the sandbox image is missing on this node', {
      cause: err, retryAfterSec: 30,
    });
  }
  return new BuntimeError('internal_error', 'container engine error', { cause: err });
}
