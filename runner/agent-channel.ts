import { randomUUID } from 'node:crypto';
import { PassThrough, type Duplex } from 'node:stream';
import { BuntimeError, isErrorCode } from '../core/errors.ts';

/** One line the agent wrote: always the `id` of the request it answers and a `type`. */
export interface AgentReply {
  id: string;
  type: string;
  [field: string]: unknown;
}

/** Reply types that do not end a request. */
const PROGRESS_TYPES = new Set(['out', 'chunk']);

interface Pending {
  resolve: (reply: AgentReply) => void;
  reject: (err: Error) => void;
  onProgress: ((reply: AgentReply) => void) | undefined;
}

/** Thrown for every request in flight (and every later one) once the attach stream has closed. */
export class AgentGoneError extends Error {
  constructor(reason: string) {
    super(`sandbox agent unreachable: ${reason}`);
    this.name = 'AgentGoneError';
  }
}

/**
 * The runner's end of the long-lived channel to one session's agent: JSON lines written to the
 * container's stdin, JSON lines read from its (demultiplexed) stdout. Many requests may be in
 * flight; replies are routed by id.
 */
export class AgentChannel {
  private readonly pending = new Map<string, Pending>();
  private buffered: Buffer[] = [];
  private closedReason: string | undefined;

  /**
   * @param stream the hijacked attach stream (stdin writes, multiplexed stdout/stderr reads)
   * @param demux splits Docker's multiplexed frames into stdout and stderr streams
   */
  constructor(
    private readonly stream: Duplex,
    demux: (src: Duplex, stdout: PassThrough, stderr: PassThrough) => void,
    private readonly onAgentLog: (line: string) => void = () => {},
  ) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    demux(stream, stdout, stderr);
    stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    stderr.on('data', (chunk: Buffer) => this.onAgentLog(chunk.toString('utf8').trimEnd()));
    stream.on('end', () => this.close('stream ended'));
    stream.on('close', () => this.close('stream closed'));
    stream.on('error', (err) => this.close(err.message));
  }

  get alive(): boolean {
    return this.closedReason === undefined;
  }

  /**
   * Sends one request and resolves with its final reply; `onProgress` sees the progress replies
   * (`out`) before it. An agent `error` reply rejects with the matching {@link BuntimeError}.
   */
  request(req: Record<string, unknown>, onProgress?: (reply: AgentReply) => void): Promise<AgentReply> {
    if (this.closedReason !== undefined) return Promise.reject(new AgentGoneError(this.closedReason));
    const id = randomUUID();
    return new Promise<AgentReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.stream.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const p of this.pending.values()) p.reject(new AgentGoneError(reason));
    this.pending.clear();
    this.stream.destroy();
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      this.buffered.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.buffered).toString('utf8');
      this.buffered = [];
      this.onLine(line);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.buffered.push(chunk.subarray(start));
  }

  private onLine(line: string): void {
    let reply: AgentReply;
    try {
      reply = JSON.parse(line) as AgentReply;
    } catch {
      this.onAgentLog(`unparseable agent line (${line.length} chars)`);
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return;
    if (PROGRESS_TYPES.has(reply.type)) {
      p.onProgress?.(reply);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.type === 'error') p.reject(agentError(reply));
    else p.resolve(reply);
  }
}

function agentError(reply: AgentReply): BuntimeError {
  const code = isErrorCode(reply.code) ? reply.code : 'internal_error';
  const message = typeof reply.message === 'string' ? reply.message : 'sandbox agent error';
  const details = typeof reply.details === 'object' && reply.details !== null
    ? (reply.details as Record<string, unknown>)
    : {};
  return new BuntimeError(code, message, { details });
}
