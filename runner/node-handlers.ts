import type { NodeJobs } from '../core/queues.ts';
import type { Executor } from './executor.ts';
import { tarFrom, untarInto } from './file-ops.ts';
import type { Handlers } from './job-worker.ts';
import type { SessionHost } from './session-host.ts';

/** Handlers of a node's queue: every job about a session hosted on this node. */
export function nodeHandlers(host: SessionHost, exec: Executor): Handlers<NodeJobs> {
  return {
    execute: (p) => exec.run(p),
    spawn: (p) => exec.spawn(p),
    delete: async (p) => ({ deleted: await host.delete(p.sessionId) }),
    kill: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({ op: 'kill', pid: p.pid }));
      const pids = (r.pids as number[]) ?? [];
      return { killed: pids.length > 0, pids };
    },
    processes: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({ op: 'ps' }));
      return { processes: r.processes as never };
    },
    stat: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({ op: 'stat' }));
      return { filesCount: Number(r.filesCount), activeProcesses: Number(r.activeProcesses) };
    },
    fileWrite: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({
        op: 'write', path: p.path, contentBase64: p.contentBase64, maxFileBytes: p.maxFileBytes,
      }));
      return { path: String(r.path), size: Number(r.size) };
    },
    fileRead: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({ op: 'read', path: p.path, maxFileBytes: p.maxFileBytes }));
      return { contentBase64: String(r.contentBase64) };
    },
    fileList: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({
        op: 'list', path: p.path, recursive: true, limit: p.limit, offset: p.offset,
      }));
      return { files: r.files as never, total: Number(r.total) };
    },
    fileDelete: async (p) => {
      const r = await exec.agent(p.sessionId, (ch) => ch.request({ op: 'delete', path: p.path }));
      return { deleted: true, path: String(r.path) };
    },
    upload: async (p) => {
      const files = await host.use(p.sessionId, (ch) => untarInto(ch, p.path, Buffer.from(p.tarBase64, 'base64'), p.maxFileBytes));
      return { files };
    },
    preview: async (p) => {
      const { sessionId, ...http } = p;
      const r = await exec.agent(sessionId, (ch) => ch.request({ op: 'http', ...http, timeoutMs: 30_000 }));
      return { status: Number(r.status), headers: r.headers as Record<string, string>, bodyBase64: String(r.bodyBase64) };
    },
    download: async (p) => {
      const tar = await host.use(p.sessionId, (ch) => tarFrom(ch, p.path));
      return { tarBase64: tar.toString('base64') };
    },
  };
}
