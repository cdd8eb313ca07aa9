/**
 * One handler per op of PROTOCOL.md. A handler returns its final reply (or, for `run`, sends
 * its replies itself and returns nothing); anything it throws becomes an error reply.
 */
import type { Reply } from './channel.ts';
import type { Executions } from './executions.ts';
import type { FileOps } from './files.ts';
import { AgentError, bool, int, optInt, str, type Fields } from './protocol.ts';
import { proxyHttp } from './preview.ts';
import type { Snapshots } from './snapshot.ts';
import { parseRun, type Runner } from './run.ts';
import { countFiles, list } from './walk.ts';
import type { WriteTracker } from './write-tracker.ts';

export interface HandlerDeps {
  version: string;
  files: FileOps;
  executions: Executions;
  runner: Runner;
  writes: WriteTracker;
  snapshots: Snapshots;
}

type Handler = (id: string, req: Fields) => Reply | undefined | Promise<Reply | undefined>;

const DEFAULT_MAX_FILE = 10 * 1024 * 1024;

export function handlers(d: HandlerDeps): Record<string, Handler> {
  // A run starting right after one of these must not count the change as its own.
  const changing = (h: Handler): Handler => (id, req) => {
    try {
      return h(id, req);
    } finally {
      d.writes.touch();
    }
  };
  return {
    ping: (id) => ({ id, type: 'pong', version: d.version }),
    http: proxyHttp,
    snapshot: (id) => d.snapshots.snapshot(id),
    'restore-open': (id) => d.snapshots.open(id),
    'restore-write': (id, req) => d.snapshots.write(id, req),
    'restore-close': changing((id, req) => d.snapshots.close(id, req)),
    run: async (id, req) => {
      await d.runner.run(parseRun(id, req));
      return undefined;
    },
    kill: async (id, req) => ({ id, type: 'killed', pids: await kill(d.executions, optInt(req, 'pid')) }),
    ps: (id) => ({ id, type: 'ps', processes: ps(d.executions) }),
    stat: (id) => ({ id, type: 'stat', filesCount: countFiles(), activeProcesses: d.executions.running().length }),
    write: changing((id, req) => {
      const data = Buffer.from(str(req, 'contentBase64'), 'base64');
      const w = d.files.write(str(req, 'path'), data, int(req, 'maxFileBytes', DEFAULT_MAX_FILE));
      return { id, type: 'written', path: w.path, size: w.size };
    }),
    read: (id, req) => {
      const data = d.files.read(str(req, 'path'), int(req, 'maxFileBytes', DEFAULT_MAX_FILE));
      return { id, type: 'file', contentBase64: data.toString('base64') };
    },
    list: (id, req) => ({
      id, type: 'list',
      ...list(str(req, 'path', ''), bool(req, 'recursive'), int(req, 'limit', 1000), int(req, 'offset', 0)),
    }),
    delete: changing((id, req) => ({ id, type: 'deleted', path: d.files.delete(str(req, 'path')) })),
    mkdir: changing((id, req) => ({ id, type: 'made', path: d.files.mkdir(str(req, 'path')) })),
  };
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
