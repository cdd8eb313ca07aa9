import { BuntimeError } from '../core/errors.ts';
import type { NodeJobs } from '../core/queues.ts';
import type { AgentAccess } from './agent-access.ts';
import type { Executor } from './executor.ts';
import { tarFrom, untarInto } from './file-ops.ts';
import type { Janitor } from './janitor.ts';
import type { IdleKeeper } from './idle-keeper.ts';
import type { Handlers, JobContext } from './job-worker.ts';
import { relayPreview } from './preview-relay.ts';
import type { Sandboxes } from './sandboxes.ts';
import type { MadeSession, SessionFactory } from './session-factory.ts';
import type { SessionWorkspaces } from './session-workspaces.ts';
import type { TimeoutBackstop } from './timeout-backstop.ts';
import type { Transfer, TransferHub } from './transfer-hub.ts';

/** How long the session's preview server may take to accept a connection, ms. */
const PREVIEW_CONNECT_MS = 5_000;

export interface NodeHandlerDeps {
  access: AgentAccess;
  exec: Executor;
  janitor: Janitor;
  transfers: TransferHub;
  backstop: TimeoutBackstop;
  /** How long a session's preview server may take to start answering, ms. */
  previewFirstByteMs: number;
  sandboxes: Sandboxes;
  factory: SessionFactory;
  workspaces: SessionWorkspaces;
  lifecycle: IdleKeeper;
  /** True when the node holds as many sessions as it may (new ones are refused with a 503). */
  full: () => boolean;
}

/** Handlers of a node's queues: every job about a session hosted on this node. */
export function nodeHandlers(d: NodeHandlerDeps): Handlers<NodeJobs> {
  const { access, exec, janitor, transfers, backstop, previewFirstByteMs, sandboxes, workspaces } = d;
  const agent = access.use.bind(access);
  /** Makes a session on this node (it must have room) and starts its idle clock. */
  const make = async (fn: () => Promise<MadeSession>): Promise<MadeSession> => {
    if (d.full()) throw new BuntimeError('service_unavailable', 'the session\'s node has no room for another session', { retryAfterSec: 10 });
    const made = await fn();
    d.lifecycle.track(made.sessionId);
    return made;
  };
  return {
    execute: (p) => exec.run(p),
    spawn: (p) => exec.spawn(p),
    delete: async (p) => ({ deleted: await janitor.delete(p.sessionId) }),
    fork: async (p) => {
      await sandboxes.record(p.sessionId);
      return make(() => d.factory.fork(p.sessionId, p.session));
    },
    snapshotCreate: async (p) => {
      await sandboxes.record(p.sessionId);
      return workspaces.exportSnapshot(p.sessionId, p.snapshotId).catch(async (err: unknown) => {
        throw await sandboxes.lostIfMissing(p.sessionId, err);
      });
    },
    snapshotRestore: (p) => make(() => d.factory.fromSnapshot(p.snapshotId, p.session)),
    snapshotDelete: async (p) => {
      await workspaces.removeSnapshot(p.snapshotId);
      return { deleted: true };
    },
    // A starved agent (e.g. a fork bomb in the session) does not stop a kill: the host does it.
    kill: (p) => agent(p.sessionId, (a) => backstop.kill(p.sessionId, p.pid, () => a.kill(p.pid))),
    processes: async (p) => ({ processes: await agent(p.sessionId, (a) => a.ps()) }),
    stat: (p) => agent(p.sessionId, (a) => a.stat()),
    fileList: (p) => agent(p.sessionId, (a) => a.list(p.path, { recursive: true, limit: p.limit, offset: p.offset, cursor: p.cursor })),
    fileDelete: async (p) => ({ deleted: true, path: await agent(p.sessionId, (a) => a.delete(p.path)) }),
    fileWrite: (p, ctx) => transfers.serve(p.transferId, async (t) => {
      // Without a Content-Length (a chunked body) the length is learned at the end.
      const header = t.req.headers['content-length'];
      const size = header === undefined ? undefined : Number(header);
      if (size !== undefined && !Number.isSafeInteger(size)) throw new BuntimeError('invalid_request', 'a file write has a bad length');
      const written = await agent(p.sessionId, (a) => a.write(p.path, t.req, size, p.maxFileBytes, t.signal));
      return answerJson(t, written);
    }, left(ctx)),
    fileRead: (p, ctx) => transfers.serve(p.transferId, (t) => agent(p.sessionId, async (a) => {
      const file = await a.read(p.path, p.maxFileBytes);
      t.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.size) });
      file.stream.pipe(t.res);
      t.signal.addEventListener('abort', () => file.stream.destroy(), { once: true });
      await file.done;
      return { size: file.size };
    }), left(ctx)),
    upload: (p, ctx) => transfers.serve(p.transferId, async (t) => {
      const files = await agent(p.sessionId, (a) => untarInto(a, p.path, t.req, p.maxFileBytes, t.signal));
      return answerJson(t, { files });
    }, left(ctx)),
    download: (p, ctx) => transfers.serve(p.transferId, (t) => agent(p.sessionId, async (a) => {
      t.res.setHeader('content-type', 'application/x-tar');
      return { files: await tarFrom(a, p.path, t.res, p.maxFileBytes) };
    }), left(ctx)),
    // The whole exchange counts as a use of the session: it is never paused mid-answer.
    preview: (p, ctx) => transfers.serve(p.transferId, (t) => agent(p.sessionId, async (a) => ({
      status: await relayPreview(t, await a.tcp(p.port, PREVIEW_CONNECT_MS), previewFirstByteMs),
    })), left(ctx)),
  };
}

/** Time left until the job's deadline, ms. */
function left(ctx: JobContext): number {
  return ctx.deadline - ctx.clock.now();
}

/** Answers a transfer with a small JSON body and returns it as the job's result too. */
function answerJson<T>(t: Transfer, body: T): T {
  t.res.writeHead(200, { 'content-type': 'application/json' });
  t.res.end(JSON.stringify(body));
  return body;
}
