import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import Docker from 'dockerode';
import type { RunRequestInput as RunRequest, RunResult } from '../../core/agent-protocol.ts';
import { AgentChannel } from '../../runner/agent-channel.ts';
import { AgentClient } from '../../runner/agent-client.ts';
import { defaultSeccompProfile } from '../../core/config.ts';
import { containerSpec, type SandboxSpec } from '../../runner/container-spec.ts';
import { loadSeccompProfile } from '../../runner/seccomp-profile.ts';
import { DataPort } from '../../runner/data-port.ts';
import { WorkspaceStore } from '../../runner/workspace-store.ts';
import { createLogger } from '../../core/logger.ts';

/** One raw reply line of the agent. */
export type AgentReply = { id: string; type: string; [field: string]: any };

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const SANDBOX_VERSION = pkg.version;
export const SANDBOX_IMAGE = process.env.SANDBOX_IMAGE || `buntime-sandbox:${pkg.version}`;
export const TEST_UID = 100123;

/** Small limits so that every attack hits them quickly. */
const DEFAULTS: Omit<SandboxSpec, 'sessionId' | 'dataDir' | 'workspaceDir'> = {
  nodeId: 'agent-test',
  image: SANDBOX_IMAGE,
  runtime: 'runc',
  uid: TEST_UID,
  limits: { memory: 256, cpu: 1, timeout: 30, disk: 64 },
  pidsLimit: 128,
  tmpMb: 16,
  seccompProfile: loadSeccompProfile(defaultSeccompProfile('runc')),
};

/**
 * A real session container (created with the runner's `containerSpec`), spoken to exactly as
 * the runner does: `client` is the runner's typed {@link AgentClient} over the attach stream and
 * a {@link DataPort}. `request`/`writeRaw` speak raw lines, for tests of malformed input.
 */
export class AgentContainer {
  readonly stderr: string[] = [];
  private readonly rawPending = new Map<string, (r: AgentReply) => void>();
  private buffer = '';
  private readonly decoder = new StringDecoder('utf8');
  private seq = 0;

  private constructor(
    readonly container: Docker.Container,
    readonly client: AgentClient,
    private readonly stream: Duplex,
    /** What the container was given on the host, removed with it. */
    private readonly host: { port: DataPort; socketRoot: string; workspaces: WorkspaceStore },
  ) {}

  /**
   * @param overrides fields of the sandbox spec to change from the small test defaults
   * @param tweak edits the create options after `containerSpec()` (tests of spec variants)
   */
  static async start(
    overrides: Partial<SandboxSpec> = {},
    tweak: (opts: Docker.ContainerCreateOptions) => void = () => {},
  ): Promise<AgentContainer> {
    const docker = new Docker();
    const sessionId = `ses_agenttest${randomBytes(6).toString('hex')}`;
    const socketRoot = mkdtempSync(join(tmpdir(), 'buntime-agent-test-'));
    const port = await DataPort.open(socketRoot, sessionId);
    // A real disk workspace, as the runner gives every session (its quota is the disk limit).
    const workspaces = new WorkspaceStore({ dir: join(socketRoot, 'workspaces'), log: createLogger('warn') });
    const spec = { ...DEFAULTS, ...overrides };
    const workspaceDir = await workspaces.create(sessionId, { diskMb: spec.limits.disk, uid: spec.uid });
    const opts = containerSpec({ ...spec, sessionId, dataDir: port.hostDir, workspaceDir });
    tweak(opts);
    const container = await docker.createContainer(opts).catch(async (err: unknown) => {
      await workspaces.remove(sessionId);
      throw err;
    });
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as Duplex;
      const raw = new PassThrough();
      const channel = new AgentChannel(stream, (src, out, err) => {
        const tee = new PassThrough();
        docker.modem.demuxStream(src, tee, err);
        tee.on('data', (c: Buffer) => { out.write(c); raw.write(c); });
      }, (line) => agent.stderr.push(line));
      const agent: AgentContainer = new AgentContainer(container, new AgentClient(channel, port), stream, { port, socketRoot, workspaces });
      raw.on('data', (chunk: Buffer) => agent.onRaw(chunk));
      await container.start();
      await agent.client.ping();
      return agent;
    } catch (e) {
      await container.remove({ force: true }).catch(() => {});
      await port.destroy().catch(() => {});
      await workspaces.remove(sessionId).catch(() => {});
      throw e;
    }
  }

  /** A foreground run with test-friendly defaults. */
  run(fields: Partial<RunRequest> & Pick<RunRequest, 'kind' | 'source'>): Promise<RunResult> {
    return this.client.run(runFields(fields, `ex_${++this.seq}`));
  }

  /** A background run with test-friendly defaults; resolves with its pid. */
  spawn(fields: Partial<RunRequest> & Pick<RunRequest, 'kind' | 'source'>): Promise<number> {
    return this.client.spawn(runFields(fields, fields.execId ?? `bg_${++this.seq}`));
  }

  /** Writes bytes to a file in the session through the data channel. */
  write(path: string, data: Buffer | string, maxFileBytes = 10 * 1024 * 1024) {
    const bytes = Buffer.from(data);
    return this.client.write(path, Readable.from([bytes]), bytes.length, maxFileBytes);
  }

  /** Reads a file of the session back through the data channel. */
  async read(path: string, maxFileBytes = 10 * 1024 * 1024): Promise<Buffer> {
    const file = await this.client.read(path, maxFileBytes);
    const parts: Buffer[] = [];
    for await (const chunk of file.stream) parts.push(chunk as Buffer);
    await file.done;
    return Buffer.concat(parts);
  }

  /** Sends one raw request line; resolves with its final raw reply (progress lines skipped). */
  request(req: Record<string, unknown>): Promise<AgentReply> {
    const id = `raw${++this.seq}`;
    return new Promise((resolve) => {
      this.rawPending.set(id, resolve);
      this.stream.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Writes raw bytes to the agent's stdin (for malformed-input tests). */
  writeRaw(text: string): void {
    this.stream.write(text);
  }

  /** Waits for the reply to a raw request with a known id. */
  expect(id: string): Promise<AgentReply> {
    return new Promise((resolve) => this.rawPending.set(id, resolve));
  }

  async remove(): Promise<void> {
    this.client.close('test done');
    await this.container.remove({ force: true }).catch(() => {});
    const { port, socketRoot, workspaces } = this.host;
    await port.destroy().catch(() => {});
    for (const id of await workspaces.list().catch(() => [])) await workspaces.remove(id).catch(() => {});
    rmSync(socketRoot, { recursive: true, force: true });
  }

  private onRaw(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk);
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      let reply: AgentReply;
      try {
        reply = JSON.parse(line) as AgentReply;
      } catch {
        continue;
      }
      const resolve = this.rawPending.get(reply.id);
      if (!resolve || ['out', 'opened'].includes(reply.type)) continue;
      this.rawPending.delete(reply.id);
      resolve(reply);
    }
  }
}

function runFields(fields: Partial<RunRequest> & Pick<RunRequest, 'kind' | 'source'>, execId: string): RunRequest {
  return {
    execId, files: [], env: {}, cwd: '/workspace', stdin: null, timeoutMs: 10_000, maxOutputBytes: 1024 * 1024,
    maxFileBytes: 10 * 1024 * 1024, stream: false, ...fields,
  };
}
