/**
 * The sandbox agent against the real Docker engine: session containers made with the runner's
 * `containerSpec()` from the built image, spoken to over the attach stream exactly as the runner
 * does. Attack tests get a container of their own and check the agent still works afterwards.
 */
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentContainer, SANDBOX_VERSION, TEST_UID } from './support/agent-harness.ts';

const MiB = 1024 * 1024;

/** Runs `fn` against a fresh container, removed whatever happens. */
async function withAgent<T>(
  fn: (a: AgentContainer) => Promise<T>,
  ...start: Parameters<typeof AgentContainer.start>
): Promise<T> {
  const agent = await AgentContainer.start(...start);
  try {
    return await fn(agent);
  } finally {
    await agent.remove();
  }
}

async function echoOk(a: AgentContainer): Promise<void> {
  const r = await a.run({ kind: 'command', source: 'echo ok' });
  expect(r).toMatchObject({ stdout: 'ok\n', status: 'ok', exitCode: 0 });
}

/** Lists the session uid's `sleep` processes (other than the checking shell), then `done`. */
const USER_PROCS = `for d in /proc/[0-9]*; do
  n=\${d#/proc/}; [ "$n" = "$$" ] && continue
  grep -q "^Uid:[[:space:]]*${TEST_UID}[[:space:]]" $d/status 2>/dev/null && grep -q '^Name:.*sleep' $d/status && echo "$n"
done; echo done`;

describe('agent: running programs', () => {
  let a: AgentContainer;
  beforeAll(async () => {
    a = await AgentContainer.start();
  });
  afterAll(async () => {
    // Whatever the tests did, the agent never logged an exception it did not handle.
    expect(a.stderr.join('\n')).not.toMatch(/uncaught|unhandled/);
    await a?.remove();
  });

  it('takes events on /workspace itself (no file name) in its stride', async () => {
    await a.run({ kind: 'command', source: 'chmod 700 /workspace && chmod 755 /workspace && touch /workspace' });
    await echoOk(a);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.stderr.join('\n')).not.toMatch(/uncaught/);
  });

  it('answers ping with its version', async () => {
    expect(await a.client.ping()).toEqual({ version: SANDBOX_VERSION });
  });

  it('runs the image smoke program', async () => {
    const r = await a.run({ kind: 'command', source: 'bun run /opt/buntime/smoke.ts' });
    expect(r).toMatchObject({ stdout: 'OK\n', stderr: '', status: 'ok', exitCode: 0, timedOut: false });
  });

  it('runs TypeScript code and measures it', async () => {
    const source = 'interface P { x: number }\nconst p: P = { x: 21 };\nconsole.log(p.x * 2);\nconsole.error("warn");';
    const r = await a.run({ kind: 'code', source });
    expect(r).toMatchObject({ stdout: '42\n', stderr: 'warn\n', status: 'ok', exitCode: 0, signal: null });
    expect(r.memoryUsed).toBeGreaterThan(1 * MiB);
    expect(r.memoryUsed).toBeLessThan(200 * MiB);
    expect(r.cpuTime).toBeGreaterThanOrEqual(0);
    expect(r.executionTime).toBeGreaterThan(0);
  });

  it('runs a command with env, stdin and cwd; a failure is a result', async () => {
    const r = await a.run({
      kind: 'command', source: 'echo "$GREETING"; pwd; cat; echo " $HOME $USER"', env: { GREETING: 'hi there' },
      stdin: 'from stdin', cwd: 'sub/dir',
    });
    expect(r).toMatchObject({ stdout: 'hi there\n/workspace/sub/dir\nfrom stdin /tmp sandbox\n', status: 'ok' });
    const failed = await a.run({ kind: 'command', source: 'echo bad >&2; exit 3' });
    expect(failed).toMatchObject({ stderr: 'bad\n', exitCode: 3, status: 'error', signal: null });
    // The peak RSS is the program's own, not the (much larger) agent's it was started from.
    expect(failed.memoryUsed).toBeGreaterThan(0);
    expect(failed.memoryUsed).toBeLessThan(10 * MiB);
  });

  it('writes files before the run and reports the files it wrote', async () => {
    const r = await a.run({
      kind: 'command', source: 'bun run app/main.ts && echo done > app/out.txt',
      files: [
        { path: 'app/main.ts', content: 'import { word } from "./lib.ts";\nconst n: number = 3;\nconsole.log(word.repeat(n));' },
        { path: '/workspace/app/lib.ts', content: Buffer.from('export const word: string = "ab";').toString('base64'), encoding: 'base64' },
      ],
    });
    expect(r).toMatchObject({ stdout: 'ababab\n', status: 'ok' });
    expect(r.filesWritten).toEqual(['app/lib.ts', 'app/main.ts', 'app/out.txt']);
    const again = await a.run({ kind: 'command', source: 'cat app/out.txt' });
    expect(again).toMatchObject({ stdout: 'done\n', filesWritten: [] });
  });

  it('runs a source over 64 KiB from a temporary file it does not list', async () => {
    const source = `// ${'x'.repeat(70 * 1024)}\nconsole.log(process.cwd());`;
    const r = await a.run({ kind: 'code', source, cwd: 'big' });
    expect(r).toMatchObject({ stdout: '/workspace/big\n', status: 'ok', filesWritten: [] });
    const left = await a.client.list('big', { recursive: true, limit: 100, offset: 0 });
    expect(left.files).toEqual([]);
  });

  it('streams output, joining UTF-8 characters split across writes', async () => {
    const source = 'process.stdout.write(Buffer.from([0x61, 0xe2, 0x82])); await Bun.sleep(100); '
      + 'process.stdout.write(Buffer.from([0xac, 0x62])); console.error("e");';
    const progress: Array<{ stream: string; data: string }> = [];
    const result = await a.client.run({
      execId: 'stream1', kind: 'code', source, stream: true, timeoutMs: 10_000, files: [], env: {}, cwd: '/workspace',
      stdin: null, maxOutputBytes: MiB, maxFileBytes: MiB,
    }, (stream, data) => progress.push({ stream, data }));
    expect(result.stdout).toBe('a€b');
    const streamed = progress.filter((p) => p.stream === 'stdout').map((p) => p.data);
    expect(streamed.join('')).toBe('a€b');
    expect(streamed.some((s) => s.includes('\uFFFD'))).toBe(false);
    expect(progress.filter((p) => p.stream === 'stderr').map((p) => p.data).join('')).toBe('e\n');
  });

  it('caps retained output but reads everything (60 MB of stdout)', async () => {
    const started = Date.now();
    const r = await a.run({
      kind: 'command', source: 'head -c 62914560 /dev/zero | tr "\\0" a; echo tail >&2', maxOutputBytes: MiB, timeoutMs: 30_000,
    });
    expect(r).toMatchObject({ status: 'ok', exitCode: 0, stdoutTruncated: true, stderrTruncated: false, stderr: 'tail\n' });
    expect(r.stdout.length).toBe(MiB);
    expect(r.stdout).toMatch(/^a+$/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('runs as the session uid with no capabilities and no supplementary groups', async () => {
    const r = await a.run({ kind: 'command', source: 'id -u; grep -E "^(CapEff|CapPrm|CapAmb|Groups):" /proc/self/status' });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(String(TEST_UID));
    expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(r.stdout).toMatch(/CapPrm:\s+0000000000000000/);
    expect(r.stdout).toMatch(/Groups:\s*\n/);
  });

  it('gives programs only the fixed base environment and hides the agent environment', async () => {
    process.env.BUNTIME_TEST_SECRET = 'host-secret';
    const r = await a.run({ kind: 'code', source: 'console.log(JSON.stringify(process.env))', env: { MINE: '1' } });
    const env = JSON.parse(r.stdout) as Record<string, string>;
    const proxy = 'http://127.0.0.1:3128';
    expect(env).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8', USER: 'sandbox',
      HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy,
      NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1', NODE_USE_ENV_PROXY: '1',
      BUN_INSTALL_CACHE_DIR: '/workspace/.bun/install/cache', MINE: '1',
    });
    const agentEnv = await a.run({ kind: 'command', source: 'cat /proc/1/environ; for p in /proc/[0-9]*; do cat $p/environ; done 2>/dev/null | tr "\\0" "\\n" | grep -c BUNTIME_ || true' });
    expect(agentEnv.stdout.trim()).toBe('0');
    expect(agentEnv.stdout + agentEnv.stderr).not.toContain('host-secret');
  });

  it('background runs show in ps and die with kill', async () => {
    const pid = await a.spawn({ execId: 'bg1', kind: 'command', source: 'sleep 300' });
    const entry = (await a.client.ps()).find((p) => p.executionId === 'bg1');
    expect(entry).toMatchObject({ pid, command: 'sleep 300' });
    expect(new Date(entry!.startedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await a.client.stat()).activeProcesses).toBeGreaterThanOrEqual(1);
    const killed = await a.client.kill(pid);
    expect(killed).toContain(pid);
    await expect.poll(async () => (await a.client.ps()).length).toBe(0);
    const gone = await a.run({ kind: 'command', source: USER_PROCS });
    expect(gone.stdout).toBe('done\n');
    await expect(a.client.kill(999_999)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a kill request ends a foreground run as killed', async () => {
    const pending = a.run({ kind: 'command', source: 'echo started; : > /tmp/kill-started; sleep 60', timeoutMs: 30_000 });
    // Killed only once its output is written, so that partial output is there to check.
    await expect.poll(async () => (await a.run({ kind: 'command', source: 'test -e /tmp/kill-started && echo y' })).stdout).toBe('y\n');
    const killed = await a.client.kill();
    expect(killed.length).toBeGreaterThanOrEqual(1);
    const r = await pending;
    expect(r).toMatchObject({ status: 'killed', signal: 'SIGKILL', stdout: 'started\n', timedOut: false });
  });

  it('runs many executions at once, each with its own output', async () => {
    const runs = Array.from({ length: 16 }, (_, i) => a.run({
      kind: i % 2 ? 'code' : 'command',
      source: i % 2 ? `await Bun.sleep(200); console.log("code ${i}")` : `sleep 0.2; echo "command ${i}"`,
    }));
    const results = await Promise.all(runs);
    results.forEach((r, i) => expect(r).toMatchObject({ status: 'ok', stdout: `${i % 2 ? 'code' : 'command'} ${i}\n` }));
  });

  it('does not answer garbage, answers a bad request with invalid_request', async () => {
    a.writeRaw('this is not json\n[1,2]\n{"op":"ping"}\n\n');
    a.writeRaw('{"id":"bad1","op":"nope"}\n{"id":"bad2","op":42}\n{"id":"bad3","op":"run","kind":"code"}\n');
    const [b1, b2, b3] = await Promise.all([a.expect('bad1'), a.expect('bad2'), a.expect('bad3')]);
    for (const b of [b1, b2]) expect(b).toMatchObject({ type: 'error', code: 'invalid_request', details: { field: 'op' } });
    // Fields are the runner's to validate (it parses every request with the protocol's schemas);
    // an ill-formed one that slips through is still an error reply, never a crash.
    expect(b3.type).toBe('error');
    expect(await a.client.ping()).toEqual({ version: SANDBOX_VERSION });
  });
});

describe('agent: files', () => {
  let a: AgentContainer;
  beforeAll(async () => {
    a = await AgentContainer.start();
  });
  afterAll(async () => {
    await a?.remove();
  });

  it('writes, reads, lists, makes and deletes, owned by the session uid', async () => {
    expect(await a.write('d/e/f.txt', 'héllo', 100)).toEqual({ path: 'd/e/f.txt', size: 6 });
    expect((await a.read('/workspace/d/e/f.txt', 100)).toString()).toBe('héllo');
    expect(await a.client.mkdir('empty/dir')).toBe('empty/dir');
    const owners = await a.run({ kind: 'command', source: 'stat -c "%u %n" d d/e d/e/f.txt empty empty/dir' });
    expect(owners.stdout.trim().split('\n').every((l: string) => l.startsWith(`${TEST_UID} `))).toBe(true);
    const list = await a.client.list('', { recursive: true, limit: 100, offset: 0 });
    expect(list.files.map((f: { path: string; type: string }) => `${f.type}:${f.path}`)).toEqual([
      'directory:d', 'directory:d/e', 'file:d/e/f.txt', 'directory:empty', 'directory:empty/dir',
    ]);
    expect(list.total).toBe(5);
    const page = await a.client.list('d', { recursive: true, limit: 1, offset: 1 });
    expect(page).toMatchObject({ total: 2, files: [{ path: 'd/e/f.txt', size: 6, type: 'file' }] });
    expect((await a.client.stat()).filesCount).toBe(1);
    expect(await a.client.delete('d')).toBe('d');
    await expect(a.read('d/e/f.txt')).rejects.toMatchObject({ code: 'not_found' });
    await expect(a.write('big', 'AAAA', 2)).rejects.toMatchObject({ code: 'payload_too_large' });
    // Nothing of the refused write is left behind (no temporary file either).
    expect((await a.client.list('', { recursive: true, limit: 100, offset: 0 })).files.map((f) => f.path)).toEqual(['empty', 'empty/dir']);
  });

  it('refuses paths that leave /workspace, also through symlinks user code made', async () => {
    const made = await a.run({
      kind: 'command', source: 'ln -s / root && ln -s /etc/passwd pw && mkdir -p real && ln -s real inside && echo x > real/f',
    });
    expect(made.status).toBe('ok');
    const refused: Array<[string, () => Promise<unknown>]> = [
      ['write ../x', () => a.write('../x', '')],
      ['write a/../../x', () => a.write('a/../../x', '')],
      ['write /etc/passwd', () => a.write('/etc/passwd', '')],
      ['read /etc/passwd', () => a.read('/etc/passwd')],
      ['read /workspace/../etc/passwd', () => a.read('/workspace/../etc/passwd')],
      ['read root/etc/passwd', () => a.read('root/etc/passwd')],
      ['read pw', () => a.read('pw')],
      ['write root/tmp/owned', () => a.write('root/tmp/owned', '')],
      ['write pw', () => a.write('pw', '')],
      ['list root', () => a.client.list('root', { recursive: true, limit: 10, offset: 0 })],
      ['delete root', () => a.client.delete('root')],
      ['mkdir root/tmp/x', () => a.client.mkdir('root/tmp/x')],
      ['run in root/tmp', () => a.run({ kind: 'command', source: 'true', cwd: 'root/tmp' })],
      ['run in /tmp', () => a.run({ kind: 'command', source: 'true', cwd: '/tmp' })],
      ['run with root/tmp/f', () => a.run({ kind: 'command', source: 'true', files: [{ path: 'root/tmp/f', content: 'x', encoding: 'utf8' }] })],
    ];
    for (const [what, call] of refused) await expect(call(), what).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await a.read('inside/f')).toString()).toBe('x\n');
    const untouched = await a.run({ kind: 'command', source: 'ls /tmp; head -c 4 /etc/passwd' });
    expect(untouched.stdout).toBe('root');
  });

  it('pages a listing with cursors: every entry once, small directories sorted, a big one in its own order', async () => {
    // pages/: b/ (3 files), a.txt, many/ (10,050 files: past the sorting limit), c/ (a link to b, not followed).
    const made = await a.run({
      kind: 'command',
      source: 'mkdir -p pages/b pages/many && cd pages && touch a.txt b/3 b/1 b/2 && ln -s b c && cd many && seq 1 10050 | xargs touch',
    });
    expect(made.status).toBe('ok');
    const all: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await a.client.list('pages', { recursive: true, limit: 997, offset: 0, ...(cursor ? { cursor } : {}) });
      all.push(...page.files.map((f) => f.path));
      expect(page).toMatchObject({ total: 10_057, totalExact: true });
      pages++;
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(pages).toBe(11);
    expect(all.slice(0, 6)).toEqual(['pages/a.txt', 'pages/b', 'pages/b/1', 'pages/b/2', 'pages/b/3', 'pages/c']);
    expect(all[6]).toBe('pages/many');
    const many = all.slice(7);
    expect(new Set(many).size).toBe(10_050);
    expect(many.every((p) => /^pages\/many\/\d+$/.test(p))).toBe(true);
    // offset walks the same order; a cursor that was never handed out is refused.
    const byOffset = await a.client.list('pages', { recursive: true, limit: 5, offset: 5000 });
    expect(byOffset.files.map((f) => f.path)).toEqual(all.slice(5000, 5005));
    await expect(a.client.list('pages', { recursive: true, limit: 5, offset: 0, cursor: 'garbage' })).rejects.toMatchObject({ code: 'invalid_request' });
    await a.run({ kind: 'command', source: 'rm -rf pages' });
  });
});

describe('agent: attacks', () => {
  it('kills a run at its timeout with partial output, setsid children included', async () => {
    await withAgent(async (a) => {
      const started = Date.now();
      const r = await a.run({
        kind: 'command', timeoutMs: 2000,
        source: 'echo partial; setsid sleep 100 & (setsid sh -c "sleep 101 & sleep 102" &); while :; do :; done',
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(r).toMatchObject({ status: 'timeout', timedOut: true, exitCode: 124, signal: 'SIGKILL', stdout: 'partial\n' });
      const left = await a.run({ kind: 'command', source: USER_PROCS });
      expect(left.stdout).toBe('done\n');
      expect(await a.client.ps()).toEqual([]);
    });
  });

  it('kills what a finished run left running', async () => {
    await withAgent(async (a) => {
      const r = await a.run({ kind: 'command', source: '(setsid sleep 100 &); sleep 100 > /dev/null 2>&1 & echo bye' });
      expect(r).toMatchObject({ status: 'ok', stdout: 'bye\n' });
      const left = await a.run({ kind: 'command', source: USER_PROCS });
      expect(left.stdout).toBe('done\n');
    });
  });

  it('survives a fork bomb and runs the next command', async () => {
    await withAgent(async (a) => {
      const started = Date.now();
      const r = await a.run({ kind: 'command', source: 'b() { b | b & }; b; sleep 1; b; sleep 60', timeoutMs: 4000 });
      expect(['timeout', 'error']).toContain(r.status);
      expect(Date.now() - started).toBeLessThan(20_000);
      await echoOk(a);
      // Execution processes carry the session uid and a gid of their own (the agent's change
      // watcher runs as the uid with gid 0 and is not counted).
      const left = await a.run({ kind: 'command', source: `grep -L "^Gid:[[:space:]]*0[[:space:]]" $(grep -l "^Uid:[[:space:]]*${TEST_UID}" /proc/[0-9]*/status) | wc -l` });
      // Only this check's own shell, grep and wc remain.
      expect(Number(left.stdout.trim())).toBeLessThanOrEqual(3);
    });
  }, 60_000);

  it('a background process flood stays inside its quota and one kill ends it', async () => {
    await withAgent(async (a) => {
      const source = 'for (;;) { try { Bun.spawn(["sleep", "1000"]); } catch {} await Bun.sleep(1); }';
      await a.spawn({ execId: 'flood', kind: 'code', source });
      await new Promise((ok) => setTimeout(ok, 1500));
      expect((await a.client.ps()).map((p) => p.executionId)).toEqual(['flood']);
      const killed = await a.client.kill();
      expect(killed.length).toBeGreaterThan(50);
      await expect.poll(async () => a.client.ps()).toEqual([]);
      await echoOk(a);
    });
  });

  it('cannot be stopped or killed by user code', async () => {
    await withAgent(async (a) => {
      const r = await a.run({
        kind: 'command',
        source: 'for p in /proc/[0-9]*; do [ "${p#/proc/}" = "$$" ] || kill -STOP ${p#/proc/} 2>/dev/null; done; kill -9 -1; echo still here',
      });
      // kill(-1) spares the caller; everything else it may signal is its own.
      expect(r).toMatchObject({ status: 'ok', stdout: 'still here\n' });
      await echoOk(a);
      const states = await a.run({ kind: 'command', source: 'grep -h "^State:" /proc/1/status /proc/[0-9]*/status | sort | uniq -c' });
      expect(states.stdout).not.toMatch(/\bT \(stopped\)/);
    });
  });

  it('reports a memory bomb as oom and keeps working', async () => {
    await withAgent(async (a) => {
      const r = await a.run({
        kind: 'code', timeoutMs: 30_000,
        source: 'const keep = []; for (let i = 0; i < 1024; i++) keep.push(Buffer.alloc(1 << 20, i)); console.log("survived", keep.length);',
      });
      expect(r).toMatchObject({ status: 'oom', signal: 'SIGKILL', timedOut: false });
      expect(r.stdout).not.toContain('survived');
      await echoOk(a);
    });
  }, 60_000);

  it('fails a write past the disk limit with ENOSPC inside the sandbox, and through the agent', async () => {
    await withAgent(async (a) => {
      const r = await a.run({ kind: 'command', source: 'dd if=/dev/zero of=/workspace/fill bs=1M count=100', timeoutMs: 30_000 });
      expect(r).toMatchObject({ status: 'error', exitCode: 1 });
      expect(r.stderr).toMatch(/No space left on device/);
      // The file holds at most the disk limit (du would round its extent blocks up a MB).
      const size = await a.run({ kind: 'command', source: 'stat -c %s fill' });
      expect(Number(size.stdout)).toBeGreaterThan(60 * MiB);
      expect(Number(size.stdout)).toBeLessThanOrEqual(64 * MiB);
      // The disk is full now: the agent's own write fails cleanly too.
      await expect(a.write('more', Buffer.alloc(4 * MiB, 1), 10 * MiB))
        .rejects.toMatchObject({ code: 'disk_full', details: { errno: 'ENOSPC' } });
      await echoOk(a);
    });
  }, 60_000);

  it('survives SIGXFSZ when a write crosses a file size ulimit below the disk size', async () => {
    const lowFsize = (opts: { HostConfig?: { Ulimits?: Array<{ Name?: string; Soft?: number; Hard?: number }> } }) => {
      for (const u of opts.HostConfig?.Ulimits ?? []) if (u.Name === 'fsize') u.Soft = u.Hard = 4 * MiB;
    };
    await withAgent(async (a) => {
      await expect(a.write('big', Buffer.alloc(6 * MiB, 1), 20 * MiB))
        .rejects.toMatchObject({ code: 'disk_full', details: { errno: 'EFBIG' } });
      expect(await a.client.ping()).toEqual({ version: SANDBOX_VERSION });
      const r = await a.run({ kind: 'command', source: 'dd if=/dev/zero of=/workspace/f bs=1M count=6' });
      expect(r).toMatchObject({ status: 'killed', signal: 'SIGXFSZ' });
      await echoOk(a);
    }, {}, lowFsize);
  }, 60_000);

  it('has no network: loopback servers of the host and outside addresses are unreachable', async () => {
    const server: Server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((ok) => server.listen(0, '0.0.0.0', ok));
    const port = (server.address() as { port: number }).port;
    const hostIps = Object.values(networkInterfaces()).flat()
      .filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i!.address);
    try {
      await withAgent(async (a) => {
        // Loopback and this machine's own addresses only: nothing may ever be sent elsewhere.
        const targets = ['127.0.0.1', ...hostIps];
        const source = `
          import net from 'node:net';
          for (const host of ${JSON.stringify(targets)}) {
            try { const r = await fetch('http://' + host + ':${port}/', { signal: AbortSignal.timeout(3000) }); console.log('fetch', host, 'REACHED', await r.text()); }
            catch (e) { console.log('fetch', host, 'failed'); }
            const tcp = await new Promise((ok) => {
              const s = net.connect({ host, port: ${port}, timeout: 3000 });
              s.on('connect', () => { s.destroy(); ok('REACHED'); });
              s.on('error', (e) => ok('failed ' + e.code));
              s.on('timeout', () => { s.destroy(); ok('failed timeout'); });
            });
            console.log('tcp', host, tcp);
          }`;
        const r = await a.run({ kind: 'code', source, timeoutMs: 30_000 });
        expect(r.status).toBe('ok');
        expect(r.stdout).not.toContain('REACHED');
        expect(r.stdout.match(/failed/g)?.length).toBe(targets.length * 2);
        const ifaces = await a.run({ kind: 'command', source: 'ls /sys/class/net' });
        expect(ifaces.stdout.trim()).toBe('lo');
      });
    } finally {
      server.close();
    }
  }, 60_000);
});
