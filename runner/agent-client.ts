import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type {
  AgentOp, AgentReplyOf, AgentRequestOf, ProcessInfo, Progress, RunRequestInput, RunResult,
} from '../core/agent-protocol.ts';
import { frameWriter } from '../core/length-frames.ts';
import type { AgentChannel } from './agent-channel.ts';
import type { DataPort } from './data-port.ts';

/** A file being read from the session: its size, then its bytes. */
export interface FileReadStream {
  size: number;
  stream: Socket;
  /** Settles when the agent has sent everything (or failed). */
  done: Promise<unknown>;
}

/**
 * A session's agent, typed end to end: one method per op of core/agent-protocol.ts. Control
 * requests go over the attach-stream channel; file contents and relayed connections over data
 * streams of the session's {@link DataPort}.
 */
export class AgentClient {
  constructor(
    private readonly channel: AgentChannel,
    private readonly port: DataPort,
  ) {}

  get alive(): boolean {
    return this.channel.alive;
  }

  close(reason: string): void {
    this.channel.close(reason);
  }

  /** Any op, for callers that need the raw reply (and the contract test). */
  call<O extends AgentOp>(op: O, req: AgentRequestOf<O>, onProgress?: (p: Progress) => void): Promise<AgentReplyOf<O>> {
    return this.channel.call(op, req, onProgress);
  }

  ping(): Promise<{ version: string }> {
    return this.channel.call('ping', {});
  }

  /**
   * Runs a program to its end; `onOut` sees its output while it runs when `req.stream` is set,
   * `onStarted` its pid and gid once it runs.
   */
  async run(
    req: RunRequestInput, onOut?: (stream: 'stdout' | 'stderr', data: string) => void,
    onStarted?: (s: { pid: number; gid: number }) => void,
  ): Promise<RunResult> {
    const onProgress = (p: Progress) => {
      if (p.type === 'out') onOut?.(p.stream, p.data);
      else if (p.type === 'started') onStarted?.({ pid: p.pid, gid: p.gid });
    };
    return (await this.channel.call('run', req, onProgress)).result;
  }

  async spawn(req: RunRequestInput): Promise<number> {
    return (await this.channel.call('spawn', req)).pid;
  }

  async kill(pid?: number): Promise<number[]> {
    return (await this.channel.call('kill', pid === undefined ? {} : { pid })).pids;
  }

  async ps(): Promise<ProcessInfo[]> {
    return (await this.channel.call('ps', {})).processes;
  }

  stat(): Promise<{ filesCount: number; activeProcesses: number }> {
    return this.channel.call('stat', {});
  }

  /** One page of a listing; `cursor` is the previous page's `nextCursor`. */
  list(path: string, opts: Omit<AgentRequestOf<'list'>, 'path'>): Promise<AgentReplyOf<'list'>> {
    return this.channel.call('list', { path, ...opts });
  }

  async delete(path: string): Promise<string> {
    return (await this.channel.call('delete', { path })).path;
  }

  async mkdir(path: string): Promise<string> {
    return (await this.channel.call('mkdir', { path })).path;
  }

  /** Gives the files of a copied workspace owned by `fromUid` to the session uid; entries changed. */
  async reown(fromUid: number): Promise<number> {
    return (await this.channel.call('reown', { fromUid })).entries;
  }

  /**
   * Writes `size` bytes from `source` to `path` in the session (atomically, as the session user).
   * A source that fails or stops short changes nothing there.
   */
  async write(
    path: string, source: Readable, size: number | undefined, maxFileBytes: number, signal?: AbortSignal,
  ): Promise<{ path: string; size: number }> {
    const { token, socket } = this.port.expect();
    const reply = this.channel.call('write', { path, token, size, maxFileBytes });
    // Of unknown length: framed, so that the agent tells the end from a cut.
    const input = size === undefined ? source.pipe(frameWriter()) : source;
    // Piped, not pipelined: a stream the agent drops must not destroy the source (a client's
    // request), whose owner learns the outcome from the reply. (Node's pipe unpipes on a
    // destination error and leaves the source alone.)
    const sent = socket.then((s) => new Promise<void>((resolve) => {
      for (const event of ['error', 'close', 'finish']) s.once(event, () => resolve());
      // A source torn down before its end: the agent sees the stream end short and drops it.
      source.once('error', () => s.destroy());
      source.once('close', () => { if (!source.readableEnded) s.destroy(); });
      // Cut (the job's deadline): the agent sees the stream end short and drops the file.
      signal?.addEventListener('abort', () => { input.unpipe(s); s.destroy(); }, { once: true });
      input.pipe(s);
    })).catch(() => undefined);
    try {
      return await reply;
    } finally {
      this.port.forget(token);
      // The agent has answered: its side is done with the stream, whatever is left of ours.
      socket.then((s) => s.destroy(), () => {});
      await sent;
    }
  }

  /**
   * Opens `path` for reading: resolves once the agent has opened it (so a missing file rejects
   * before any byte), with its size and the stream of its bytes.
   */
  async read(path: string, maxFileBytes: number): Promise<FileReadStream> {
    const { token, socket } = this.port.expect();
    let opened!: (size: number) => void;
    const sized = new Promise<number>((resolve) => (opened = resolve));
    const reply = this.channel.call('read', { path, token, maxFileBytes }, (p) => p.type === 'opened' && opened(p.size));
    reply.catch(() => this.port.forget(token));
    const size = await Promise.race([sized, reply.then((r) => r.size)]);
    return { size, stream: await socket, done: reply };
  }

  /** A connection to `127.0.0.1:port` inside the session (e.g. its preview server). */
  async tcp(port: number, connectTimeoutMs: number): Promise<Socket> {
    const { token, socket } = this.port.expect();
    try {
      await this.channel.call('tcp', { port, token, connectTimeoutMs });
    } catch (err) {
      this.port.forget(token);
      throw err;
    }
    return socket;
  }
}

