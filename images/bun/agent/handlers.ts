/**
 * One handler per op of core/agent-protocol.ts, typed by it: a handler takes the op's request
 * and returns its reply fields (the dispatcher adds `id` and `type`); progress replies go out
 * through the context; anything it throws becomes an error reply.
 */
import type { AgentOp, AgentReplyOf, AgentRequest, Progress } from '../../../core/agent-protocol.ts';
import { asUser } from './as-user.ts';
import { send } from './channel.ts';
import type { DataChannel } from './data-channel.ts';
import type { Executions } from './executions.ts';
import type { FileCount } from './file-count.ts';
import type { FileOps } from './files.ts';
import { listPage } from './list-pager.ts';
import { AgentError } from './protocol.ts';
import { reown } from './reown.ts';
import type { Runner } from './run.ts';
import { relayTcp } from './tcp-relay.ts';
import type { WriteTracker } from './write-tracker.ts';

export interface HandlerDeps {
  version: string;
  uid: number;
  data: DataChannel;
  files: FileOps;
  executions: Executions;
  runner: Runner;
  writes: WriteTracker;
  fileCount: FileCount;
}

/** What a handler may do besides returning its reply. */
export interface OpContext {
  id: string;
  progress(p: Progress): void;
}

type RequestOf<O extends AgentOp> = Omit<Extract<AgentRequest, { op: O }>, 'id' | 'op'>;
type Handler<O extends AgentOp> = (req: RequestOf<O>, ctx: OpContext) => AgentReplyOf<O> | Promise<AgentReplyOf<O>>;
export type HandlerTable = { [O in AgentOp]: Handler<O> };

export function handlers(d: HandlerDeps): HandlerTable {
  // A run starting right after one of these must not count the change as its own.
  const changing = <T>(fn: () => T): T => {
    try {
      return fn();
    } finally {
      d.writes.touch();
    }
  };
  return {
    ping: () => ({ version: d.version }),
    run: async (req, ctx) => ({ result: await d.runner.run(ctx.id, req) }),
    spawn: (req, ctx) => d.runner.spawn(ctx.id, req),
    kill: async (req) => ({ pids: await kill(d.executions, req.pid) }),
    reset: async () => ({ killed: await d.executions.killForeground() }),
    ps: () => ({ processes: ps(d.executions) }),
    stat: async () => ({ filesCount: await d.fileCount.get(), activeProcesses: d.executions.running().length }),
    write: async (req) => {
      const source = await d.data.stream(req.token);
      try {
        return await d.files.writeFrom(req.path, source, req.size, req.maxFileBytes);
      } finally {
        d.writes.touch();
      }
    },
    read: async (req, ctx) => {
      const file = d.files.open(req.path, req.maxFileBytes);
      ctx.progress({ type: 'opened', size: file.size });
      const sink = await d.data.stream(req.token).catch((err: unknown) => {
        d.files.close(file);
        throw err;
      });
      return { size: await d.files.sendTo(file, sink) };
    },
    list: (req) => asUser(d.uid, () => listPage(req)),
    delete: (req) => changing(() => ({ path: d.files.delete(req.path) })),
    mkdir: (req) => changing(() => ({ path: d.files.mkdir(req.path) })),
    tcp: (req) => relayTcp(d.data, req.port, req.token, req.connectTimeoutMs),
    reown: (req) => changing(() => ({ entries: reown(req.fromUid, d.uid) })),
  };
}

/** Sends a progress reply for request `id`. */
export function progressOf(id: string): (p: Progress) => void {
  return (p) => send({ id, ...p });
}

async function kill(executions: Executions, pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return executions.killEverything();
  const exec = executions.find(pid);
  if (exec) return executions.kill(exec, 'kill');
  const stray = executions.killStray(pid);
  if (!stray) throw new AgentError('not_found', `no user process ${pid}`, { pid });
  return stray;
}

function ps(executions: Executions) {
  return executions.running().map((e) => ({
    pid: e.pid, command: e.command, startedAt: e.startedAt.toISOString(), executionId: e.execId,
  }));
}
