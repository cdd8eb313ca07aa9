import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { http, newClient } from '../support/harness.ts';

/**
 * Timeouts hold against anything inside. A fork bomb shares the session's CPU share with the
 * agent that must kill it; when the agent cannot answer shortly after the timeout, the runner
 * ends the execution from the host (freeze the container's cgroup, kill the execution's
 * processes, thaw). Either way: a result right after the timeout, nothing of it left, and the
 * session works at once.
 */
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
/** The classic bomb: its first shell dies as soon as a fork fails, its children carry on. */
const BOMB = 'f(){ while :; do f & done; }; f';
/** The same under a root that never exits (it waits without forking): it lasts until the timeout. */
const HELD_BOMB = 'f(){ while :; do f & done; }; f & while :; do wait; done';

let client: Buntime;
let key: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const c = await newClient('free');
  ({ client, cleanup } = c);
  key = c.account.key;
});
afterAll(() => cleanup());

/** The session's container as the host sees it: its main pid, its cgroup's processes, the session uid. */
async function container(sessionId: string) {
  const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
  const info = await docker.getContainer(c!.Id).inspect();
  const uid = Number(info.Config.Env.find((e) => e.startsWith('BUNTIME_UID='))!.split('=')[1]);
  const cgroup = readFileSync(`/proc/${info.State.Pid}/cgroup`, 'utf8');
  const freezer = /^\d+:freezer:(.*)$/m.exec(cgroup)?.[1];
  const dir = freezer !== undefined ? `/sys/fs/cgroup/freezer${freezer}` : `/sys/fs/cgroup${/^0::(.*)$/m.exec(cgroup)![1]}`;
  const procs = () => readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number)
    .map((pid) => ({ pid, status: statusOf(pid) })).filter((p) => p.status !== '');
  return {
    uid,
    /** Live (non-zombie) processes of the session uid in the container. */
    // Processes of executions (they carry the session uid and a gid of their own); the agent's
    // change watcher runs as the session uid too but keeps gid 0, and is not user code.
    userProcesses: () => procs().filter((p) => field(p.status, 'Uid') === uid && field(p.status, 'Gid') !== 0
      && !/^State:\s+Z/m.test(p.status)).map((p) => p.pid),
    /** The agent: root's process whose parent is the container's init. */
    agentPid: () => procs().find((p) => field(p.status, 'Uid') === 0 && field(p.status, 'PPid') === info.State.Pid)!.pid,
  };
}

function statusOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

function field(status: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
}

async function until(what: string, fn: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The session answers an execution within 2 s and shows no process. */
async function usableAgain(sessionId: string): Promise<void> {
  const t = Date.now();
  const next = await client.execute({ sessionId, command: 'echo alive' });
  expect(next.stdout).toBe('alive\n');
  expect(Date.now() - t).toBeLessThan(2_000);
  expect(await client.processes.list(sessionId)).toEqual([]);
}

describe('fork bomb', () => {
  it('ends a bomb that lasts until its timeout: a timeout result within 12 s, no process left', async () => {
    const sessionId = (await client.sessions.create()).id;
    const c = await container(sessionId);
    const t0 = Date.now();
    const r = await client.execute({ sessionId, command: HELD_BOMB, timeout: 10 });
    expect(Date.now() - t0).toBeLessThan(12_000);
    expect(r).toMatchObject({ status: 'timeout', timedOut: true, exitCode: 124 });
    expect(c.userProcesses()).toEqual([]);
    await usableAgain(sessionId);
  }, 60_000);

  it('leaves nothing of the classic bomb whose first shell gives up', async () => {
    const sessionId = (await client.sessions.create()).id;
    const c = await container(sessionId);
    const t0 = Date.now();
    const r = await client.execute({ sessionId, command: BOMB, timeout: 10 });
    expect(Date.now() - t0).toBeLessThan(12_000);
    expect(['error', 'timeout']).toContain(r.status);
    expect(c.userProcesses()).toEqual([]);
    await usableAgain(sessionId);
  }, 60_000);

  it('ends it from the host when the agent cannot answer at all', async () => {
    const sessionId = (await client.sessions.create()).id;
    const c = await container(sessionId);
    const agent = c.agentPid();
    const t0 = Date.now();
    const running = client.execute({ sessionId, command: HELD_BOMB, timeout: 3 });
    // Once the bomb runs, the agent gets no CPU at all (the worst a bomb could do to it).
    await until('the bomb', () => c.userProcesses().length > 50, 5_000);
    process.kill(agent, 'SIGSTOP');
    try {
      const r = await running;
      const took = Date.now() - t0;
      expect(r).toMatchObject({ status: 'timeout', timedOut: true, exitCode: 124, signal: 'SIGKILL' });
      expect(took).toBeLessThan(3_000 + 2_500);
      expect(c.userProcesses()).toEqual([]);
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    await usableAgain(sessionId);
  }, 60_000);

  it('kills every process from the host when the agent does not answer a kill', async () => {
    const sessionId = (await client.sessions.create()).id;
    const c = await container(sessionId);
    await client.spawn({ sessionId, command: HELD_BOMB });
    await until('the bomb', () => c.userProcesses().length > 50, 5_000);
    const agent = c.agentPid();
    process.kill(agent, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const r = await http('POST', '/execution/kill', { key, body: { sessionId } });
      expect(r.status).toBe(200);
      expect(r.json.killed).toBe(true);
      expect(r.json.pids.length).toBeGreaterThan(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(c.userProcesses()).toEqual([]);
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    await usableAgain(sessionId);
  }, 60_000);
});
