import { randomUUID } from 'node:crypto';
import { PassThrough, type Duplex } from 'node:stream';
import type { z } from 'zod';
import {
  agentOps, errorReplySchema, progressSchemas, type AgentOp, type AgentReplyOf, type AgentRequestOf, type Progress,
} from '../core/agent-protocol.ts';
import { BuntimeError } from '../core/errors.ts';

interface Pending {
  op: AgentOp;
  resolve: (reply: unknown) => void;
  reject: (err: Error) => void;
  onProgress: ((p: Progress) => void) | undefined;
}

/** Thrown for every request in flight (and every later one) once the attach stream has closed. */
export class AgentGoneError extends Error {
  constructor(reason: string) {
    super(`sandbox agent unreachable: ${reason}`);
    this.name = 'AgentGoneError';
  }
}

/** A reply that does not match the protocol: a bug on one side, never the user's doing. */
export class AgentProtocolError extends Error {
  constructor(what: string, cause: unknown) {
    super(`agent protocol violation: ${what}`, { cause });
    this.name = 'AgentProtocolError';
  }
}

/**
 * The control channel to one session's agent (core/agent-protocol.ts): JSON lines written to
 * the container's stdin, JSON lines read from its demultiplexed stdout. Many requests may be in
 * flight; replies are routed by id, and every reply is validated against the op's schema.
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
   * Sends one request and resolves with its validated final reply; `onProgress` sees the
   * progress replies before it. An agent `error` reply rejects with the matching
   * {@link BuntimeError}.
   */
  call<O extends AgentOp>(op: O, req: AgentRequestOf<O>, onProgress?: (p: Progress) => void): Promise<AgentReplyOf<O>> {
    if (this.closedReason !== undefined) return Promise.reject(new AgentGoneError(this.closedReason));
    const fields = (agentOps[op].request as z.ZodType).parse(req) as object;
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { op, resolve: resolve as (r: unknown) => void, reject, onProgress });
      this.stream.write(`${JSON.stringify({ ...fields, id, op })}\n`);
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
    let reply: { id?: unknown; type?: unknown };
    try {
      reply = JSON.parse(line) as { id?: unknown; type?: unknown };
    } catch {
      this.onAgentLog(`unparseable agent line (${line.length} chars)`);
      return;
    }
    const p = typeof reply.id === 'string' ? this.pending.get(reply.id) : undefined;
    if (!p) return;
    if (typeof reply.type === 'string' && Object.hasOwn(progressSchemas, reply.type)) {
      this.onProgress(p, reply);
      return;
    }
    this.pending.delete(reply.id as string);
    try {
      if (reply.type === 'error') p.reject(agentError(errorReplySchema.parse(reply)));
      else if (reply.type === p.op) p.resolve((agentOps[p.op].reply as z.ZodType).parse(reply));
      else throw new Error(`a ${String(reply.type)} reply to ${p.op}`);
    } catch (err) {
      p.reject(new AgentProtocolError(`reply to ${p.op}`, err));
    }
  }

  private onProgress(p: Pending, reply: { type?: unknown }): void {
    const schema = progressSchemas[reply.type as keyof typeof progressSchemas];
    const parsed = schema.safeParse(reply);
    if (parsed.success) p.onProgress?.({ ...parsed.data, type: reply.type } as Progress);
    else this.onAgentLog(`malformed ${String(reply.type)} progress reply`);
  }
}

function agentError(reply: z.infer<typeof errorReplySchema>): BuntimeError {
  return new BuntimeError(reply.code, reply.message, { details: reply.details });
}
