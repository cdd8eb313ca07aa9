import type { Readable } from 'node:stream';
import type { Principal } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobs, type NodeJobs } from '../core/queues.ts';
import {
  decodeHeaders, encodeHeaders, newTransferId, PREVIEW_HEADERS_HEADER, PREVIEW_METHOD_HEADER, PREVIEW_PATH_HEADER,
  PREVIEW_STATUS_HEADER,
} from '../core/transfers.ts';
import type { HostedSession, SessionService } from './session-service.ts';
import type { TransferAnswer, TransferClient } from './transfer-client.ts';

export interface PreviewRequest {
  port: number;
  method: string;
  /** Path and query string as the session's server should see them. */
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable;
}

/** A relayed preview answer: the session server's status, headers and streaming body. */
export interface PreviewAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Readable;
}

type TransferJob = 'fileWrite' | 'fileRead' | 'upload' | 'download' | 'preview';

/**
 * Files and processes of a session: ownership and plan checks, then one job to its node. Bytes
 * (file contents, tar trees, preview traffic) stream over the node's data plane, paired with the
 * job by a transfer id, never through Redis.
 */
export class WorkspaceService {
  constructor(
    private readonly o: {
      sessions: SessionService;
      plans: Plans;
      transfers: TransferClient;
      /** Deadline of file transfers, ms (default: the catalogue's per job). */
      transferDeadlineMs?: number;
    },
  ) {}

  async write(who: Principal, sessionId: string, path: string, content: Buffer): Promise<{ path: string; size: number }> {
    const maxFileBytes = this.maxFile(who, content.length);
    const answer = await this.transfer(who, sessionId, 'fileWrite', { path, maxFileBytes }, {
      body: content, headers: { 'content-length': String(content.length) },
    });
    return readJson(answer);
  }

  /**
   * Writes a file from a stream of its bytes (at most the plan's file size), never buffering it
   * whole; `length` when the client said it (else the stream's end is its length).
   */
  async writeStream(
    who: Principal, target: { sessionId: string; path: string }, body: Readable, length?: number,
  ): Promise<{ path: string; size: number }> {
    const maxFileBytes = this.o.plans[who.plan].maxFileBytes;
    const headers = length === undefined ? undefined : { 'content-length': String(length) };
    return readJson(await this.transfer(who, target.sessionId, 'fileWrite', { path: target.path, maxFileBytes }, { body, headers }));
  }

  /** Opens a file for reading: its size and a stream of its bytes (errors come before any byte). */
  async read(who: Principal, sessionId: string, path: string): Promise<{ size: number; body: Readable }> {
    const maxFileBytes = this.o.plans[who.plan].maxFileBytes;
    const answer = await this.transfer(who, sessionId, 'fileRead', { path, maxFileBytes }, { method: 'GET' });
    return { size: Number(answer.headers['content-length'] ?? 0), body: answer.body };
  }

  /** One page of the listing of `path`: from `offset`, or from a previous page's `nextCursor`. */
  list(who: Principal, sessionId: string, path: string, page: { limit: number; offset: number; cursor?: string }) {
    return this.o.sessions.call(who, sessionId, 'fileList', { path, ...page });
  }

  delete(who: Principal, sessionId: string, path: string) {
    return this.o.sessions.call(who, sessionId, 'fileDelete', { path });
  }

  /** Unpacks a tar streamed from the client into the session; nothing is buffered here. */
  async upload(who: Principal, sessionId: string, path: string, tar: Readable): Promise<{ files: number }> {
    const maxFileBytes = this.o.plans[who.plan].maxFileBytes;
    return readJson(await this.transfer(who, sessionId, 'upload', { path, maxFileBytes }, { body: tar }));
  }

  /** A tar of the tree under `path`, streamed from the session. */
  async download(who: Principal, sessionId: string, path: string): Promise<Readable> {
    const maxFileBytes = this.o.plans[who.plan].maxFileBytes;
    return (await this.transfer(who, sessionId, 'download', { path, maxFileBytes }, { method: 'GET' })).body;
  }

  /** Relays one HTTP request to the session's preview port; the answer streams back as it comes. */
  async preview(who: Principal, sessionId: string, req: PreviewRequest): Promise<PreviewAnswer> {
    const answer = await this.transfer(who, sessionId, 'preview', { port: req.port }, {
      body: req.body,
      headers: {
        [PREVIEW_METHOD_HEADER]: req.method, [PREVIEW_PATH_HEADER]: req.path, [PREVIEW_HEADERS_HEADER]: encodeHeaders(req.headers),
      },
    });
    return {
      status: Number(answer.headers[PREVIEW_STATUS_HEADER] ?? 502),
      headers: decodeHeaders(answer.headers[PREVIEW_HEADERS_HEADER]),
      body: answer.body,
    };
  }

  processes(who: Principal, sessionId: string) {
    return this.o.sessions.call(who, sessionId, 'processes', {});
  }

  kill(who: Principal, sessionId: string, pid: number | undefined) {
    return this.o.sessions.call(who, sessionId, 'kill', pid === undefined ? {} : { pid });
  }

  private maxFile(who: Principal, size: number): number {
    const max = this.o.plans[who.plan].maxFileBytes;
    if (size > max) {
      throw new BuntimeError('payload_too_large', `file over the plan's limit of ${max} bytes`, {
        details: { size, max },
      });
    }
    return max;
  }

  /**
   * Sends a transfer job to the session's node and opens its side of the transfer there. The
   * answer on the transfer carries the outcome (the job's own reply only matters if the node
   * could not be reached at all).
   */
  private async transfer<J extends TransferJob>(
    who: Principal, sessionId: string, job: J, rest: Record<string, unknown>,
    http: { method?: string; headers?: Record<string, string>; body?: Buffer | Readable },
  ): Promise<TransferAnswer> {
    const hosted: HostedSession = await this.o.sessions.hosted(who, sessionId);
    const transferId = newTransferId();
    const payload = { ...rest, transferId } as never;
    const deadlineMs = job === 'preview' ? nodeJobs[job].deadlineMs : this.o.transferDeadlineMs ?? nodeJobs[job].deadlineMs;
    const abort = new AbortController();
    const reply = this.o.sessions.callOn(hosted.rec, job as keyof NodeJobs & string, payload, { deadlineMs });
    const answer = this.o.transfers.open(hosted.node.transferUrl, transferId, { ...http, timeoutMs: deadlineMs, signal: abort.signal });
    // The outcome comes on the transfer; a job that failed without ever taking it up (expired,
    // refused) is known only from its reply, so that ends the wait too.
    const neverRan = reply.then(() => new Promise<never>(() => {}), (err: unknown) => {
      abort.abort();
      throw err;
    });
    answer.catch(() => undefined);
    return Promise.race([answer, neverRan]);
  }
}

async function readJson<T>(answer: TransferAnswer): Promise<T> {
  const parts: Buffer[] = [];
  for await (const chunk of answer.body) parts.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as T;
}
