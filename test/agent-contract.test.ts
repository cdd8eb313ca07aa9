/**
 * The runner↔agent contract against a real agent: every op of core/agent-protocol.ts is sent
 * through the runner's typed client, and every reply must pass the protocol's schemas (the client
 * validates each one; a mismatch rejects with AgentProtocolError). The case table is typed by the
 * op map, so a new op without a case here does not compile.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentOps, type AgentOp } from '../core/agent-protocol.ts';
import { AgentContainer, SANDBOX_VERSION } from './support/agent-harness.ts';

let a: AgentContainer;
beforeAll(async () => {
  a = await AgentContainer.start();
});
afterAll(async () => {
  await a?.remove();
});

const run = { kind: 'command' as const, files: [], env: {}, cwd: '/workspace', stdin: null, timeoutMs: 10_000, maxOutputBytes: 1 << 20, maxFileBytes: 1 << 20, stream: true };

/** One exercise per op; each returns what the test checks of the reply. */
const cases: { [O in AgentOp]: (x: AgentContainer) => Promise<unknown> } = {
  ping: async (x) => expect(await x.client.call('ping', {})).toEqual({ version: SANDBOX_VERSION }),
  run: async (x) => {
    const out: string[] = [];
    const r = await x.client.call('run', { ...run, execId: 'c-run', source: 'echo contract' }, (p) => p.type === 'out' && out.push(p.data));
    expect(r.result).toMatchObject({ stdout: 'contract\n', status: 'ok', exitCode: 0 });
    expect(out.join('')).toBe('contract\n');
  },
  spawn: async (x) => {
    const { pid } = await x.client.call('spawn', { ...run, execId: 'c-spawn', source: 'sleep 30' });
    expect(pid).toBeGreaterThan(1);
  },
  ps: async (x) => expect((await x.client.call('ps', {})).processes.map((p) => p.executionId)).toContain('c-spawn'),
  stat: async (x) => expect(await x.client.call('stat', {})).toMatchObject({ activeProcesses: 1 }),
  kill: async (x) => expect((await x.client.call('kill', {})).pids.length).toBeGreaterThan(0),
  reset: async (x) => {
    const running = x.run({ kind: 'command', source: 'sleep 30', execId: 'c-fg' });
    await x.spawn({ kind: 'command', source: 'sleep 30', execId: 'c-bg' });
    await expect.poll(async () => (await x.client.ps()).length).toBe(2);
    expect(await x.client.call('reset', {})).toEqual({ killed: ['c-fg'] });
    expect(await running).toMatchObject({ status: 'killed' });
    expect((await x.client.ps()).map((p) => p.executionId)).toEqual(['c-bg']);
    await x.client.kill();
  },
  write: async (x) => {
    expect(await x.client.write('c/file.txt', Readable.from([Buffer.from('bytes')]), 5, 100)).toEqual({ path: 'c/file.txt', size: 5 });
    // A stream that ends short of its announced size was cut: nothing is written.
    await expect(x.client.write('c/cut.txt', Readable.from([Buffer.from('by')]), 5, 100)).rejects.toMatchObject({ code: 'invalid_request' });
  },
  read: async (x) => {
    const file = await x.client.read('c/file.txt', 100);
    const parts: Buffer[] = [];
    for await (const chunk of file.stream) parts.push(chunk as Buffer);
    expect({ size: file.size, text: Buffer.concat(parts).toString(), done: await file.done }).toEqual({ size: 5, text: 'bytes', done: { size: 5 } });
  },
  mkdir: async (x) => expect(await x.client.call('mkdir', { path: 'c/d' })).toEqual({ path: 'c/d' }),
  list: async (x) => expect(await x.client.call('list', { path: 'c', recursive: true, limit: 10, offset: 0 }))
    .toMatchObject({ total: 2, files: [{ path: 'c/d', type: 'directory' }, { path: 'c/file.txt', type: 'file', size: 5 }] }),
  delete: async (x) => expect(await x.client.call('delete', { path: 'c' })).toEqual({ path: 'c' }),
  tcp: async (x) => {
    await x.client.spawn({ ...run, execId: 'c-srv', kind: 'code', source: 'Bun.serve({ port: 8090, fetch: () => new Response("tcp ok") })' });
    let socket;
    for (let i = 0; i < 50 && !socket; i++) socket = await x.client.tcp(8090, 1000).catch(() => undefined) ?? (await new Promise((r) => setTimeout(r, 100)), undefined);
    socket!.write('GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n');
    let text = '';
    for await (const chunk of socket!) text += String(chunk);
    expect(text).toMatch(/^HTTP\/1\.[01] 200[\s\S]*tcp ok$/);
    await x.client.kill();
  },
  reown: async (x) => {
    await rootShell(x, 'mkdir -p /workspace/r && touch /workspace/r/f && chown -R 4242:4242 /workspace/r');
    expect(await x.client.call('reown', { fromUid: 4242 })).toEqual({ entries: 2 });
    expect((await rootShell(x, 'stat -c %u /workspace/r /workspace/r/f')).trim().split('\n')).not.toContain('4242');
  },
};

/** Runs a shell command as root in the container (files of another uid, as a copied workspace has). */
async function rootShell(x: AgentContainer, script: string): Promise<string> {
  const exec = await x.container.exec({ Cmd: ['/bin/sh', '-c', script], User: '0:0', AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  x.container.modem.demuxStream(stream, out, out);
  const parts: Buffer[] = [];
  out.on('data', (c: Buffer) => parts.push(c));
  await new Promise((resolve) => stream.on('end', resolve));
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0) throw new Error(`root shell exited ${ExitCode}: ${Buffer.concat(parts).toString()}`);
  return Buffer.concat(parts).toString();
}

describe('agent contract', () => {
  it('has a case for every op of the protocol', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(agentOps).sort());
  });

  // In the table's order: ps/stat/kill see the spawned process, read/list/delete the written file.
  for (const op of Object.keys(cases) as AgentOp[]) {
    it(`answers ${op} with a reply the protocol accepts`, async () => {
      await cases[op](a);
    });
  }

  it('rejects with the catalogue error when an op fails', async () => {
    await expect(a.client.call('delete', { path: 'missing/file' })).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(a.client.tcp(8099, 500)).rejects.toMatchObject({ code: 'not_found' });
  });
});
