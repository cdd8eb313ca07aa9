import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import Docker from 'dockerode';
import { defaultSeccompProfile } from '../../core/config.ts';
import { containerSpec, type SandboxSpec } from '../../runner/container-spec.ts';
import { loadSeccompProfile } from '../../runner/seccomp-profile.ts';

/** One reply line of the agent. */
export type AgentReply = { id: string; type: string; [field: string]: any };

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const SANDBOX_VERSION = pkg.version;
export const SANDBOX_IMAGE = process.env.SANDBOX_IMAGE || `buntime-sandbox:${pkg.version}`;
export const TEST_UID = 100123;

/** Small limits so that every attack hits them quickly. */
const DEFAULTS: Omit<SandboxSpec, 'sessionId'> = {
  nodeId: 'agent-test',
  image: SANDBOX_IMAGE,
  runtime: 'runc',
  uid: TEST_UID,
  limits: { memory: 256, cpu: 1, timeout: 30, disk: 64 },
  pidsLimit: 128,
  tmpMb: 16,
  seccompProfile: loadSeccompProfile(defaultSeccompProfile('runc')),
};

interface Pending {
  resolve: (r: AgentReply) => void;
  progress: AgentReply[];
}

/**
 * A real session container (created with the runner's `containerSpec`) and the JSON-lines
 * channel to its agent over the attach stream, for tests that speak the agent protocol directly.
 */
export class AgentContainer {
  readonly stderr: string[] = [];
  private readonly pending = new Map<string, Pending>();
  private buffer = '';
  private readonly decoder = new StringDecoder('utf8');
  private seq = 0;

  private constructor(
    readonly container: Docker.Container,
    private readonly stream: Duplex,
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
    const opts = containerSpec({ ...DEFAULTS, ...overrides, sessionId });
    tweak(opts);
    const container = await docker.createContainer(opts);
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as Duplex;
      const agent = new AgentContainer(container, stream);
      const out = new PassThrough();
      const err = new PassThrough();
      docker.modem.demuxStream(stream, out, err);
      out.on('data', (chunk: Buffer) => agent.onData(chunk));
      err.on('data', (chunk: Buffer) => agent.stderr.push(chunk.toString('utf8')));
      await container.start();
      await agent.request({ op: 'ping' });
      return agent;
    } catch (e) {
      await container.remove({ force: true }).catch(() => {});
      throw e;
    }
  }

  /** Sends a request; resolves with its final reply and the `out` replies seen before it. */
  request(req: Record<string, unknown>): Promise<AgentReply & { progress: AgentReply[] }> {
    const id = `r${++this.seq}`;
    return new Promise((resolve) => {
      const p: Pending = { resolve: (r) => resolve({ ...r, progress: p.progress }), progress: [] };
      this.pending.set(id, p);
      this.stream.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Writes raw bytes to the agent's stdin (for malformed-input tests). */
  writeRaw(text: string): void {
    this.stream.write(text);
  }

  /** Waits for the reply to a raw request with a known id. */
  expect(id: string): Promise<AgentReply & { progress: AgentReply[] }> {
    return new Promise((resolve) => {
      const p: Pending = { resolve: (r) => resolve({ ...r, progress: p.progress }), progress: [] };
      this.pending.set(id, p);
    });
  }

  /** A foreground run with test-friendly defaults; resolves with the result object. */
  async run(fields: Record<string, unknown>): Promise<Record<string, any>> {
    const reply = await this.request({
      op: 'run', execId: `ex_${++this.seq}`, timeoutMs: 10_000, maxOutputBytes: 1024 * 1024,
      maxFileBytes: 10 * 1024 * 1024, ...fields,
    });
    if (reply.type !== 'result') throw new Error(`run failed: ${JSON.stringify(reply)}`);
    return reply.result as Record<string, any>;
  }

  async remove(): Promise<void> {
    this.stream.destroy();
    await this.container.remove({ force: true }).catch(() => {});
  }

  private onData(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk);
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const reply = JSON.parse(line) as AgentReply;
      const p = this.pending.get(reply.id);
      if (!p) continue;
      if (reply.type === 'out') {
        p.progress.push(reply);
        continue;
      }
      this.pending.delete(reply.id);
      p.resolve(reply);
    }
  }
}
