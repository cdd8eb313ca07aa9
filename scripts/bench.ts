import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Buntime } from '@buntime/sdk';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { ExecSlots } from '../core/exec-slots.ts';
import { loadConfig } from '../core/config.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';
import { benchEgress, egressBenchEnv, startEgressBench } from './bench-egress.ts';
import { benchFairness } from './bench-fairness.ts';
import { benchFiles } from './bench-files.ts';
import { benchFork, benchWake } from './bench-lifecycle.ts';

/**
 * `npm run bench`: the hot path next to its baseline, measured in the same run on this machine.
 * Baseline: a bare `bun -e 'console.log(1)'` spawned on the host. Then, through HTTP and the
 * whole service: trivial execute p50/p99, executes/s with 16 sessions in parallel, session create
 * (new container and workspace, or from the warm pool), a 30 MB file written and read next to
 * `docker exec -i … cat`, wake from deep sleep with 1 MB and 500 MB workspaces, a 100 MB fork,
 * egress (bench-egress.ts: a 1 MiB fetch through the proxy next to the same fetch from the host,
 * and `bun add` time), and another account's latency while a hostile one keeps its plan's slots
 * busy (bench-fairness.ts).
 */
const BUN = ['node_modules/bun/bin/bun.exe', 'node_modules/@oven/bun-linux-x64/bin/bun'].find((p) => existsSync(p))!;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Busy CPU time of the whole machine so far, ms (from /proc/stat). */
function machineBusyMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number) as number[];
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
}

/** Bare spawns, 16 at a time for `n` in all: the machine's own ceiling for this workload. */
async function bareParallel(n: number): Promise<{ perSec: number; cpuMs: number }> {
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next++ < n) {
      await new Promise<void>((resolve) => spawn(BUN, ['-e', 'console.log(1)'], { stdio: 'ignore' }).on('exit', () => resolve()));
    }
  }));
  return { perSec: n / ((performance.now() - t0) / 1000), cpuMs: (machineBusyMs() - busy0) / n };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function leanExecute(base: string, key: string, body: object): Promise<{ stdout: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/execute`, {
      method: 'POST', agent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString()) as { stdout: string }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function bareSpawn(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    spawnSync(BUN, ['-e', 'console.log(1)']);
    out.push(performance.now() - t);
  }
  return out;
}

const run = randomBytes(4).toString('hex');
const fixtures = await startEgressBench();
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');

/** A runner and an API under a prefix and node of their own, and a client of an enterprise account there. */
async function service(name: string, extra: Record<string, string> = {}) {
  const env = {
    ...process.env, REDIS_PREFIX: `bt${name}-${run}`, NODE_ID: `${name}-${run}`, PORT: '0', LOG_LEVEL: 'warn',
    ...egressBenchEnv(fixtures), ...extra,
  };
  const runner = await startRunner(env);
  const api = await startApi(env);
  const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
  await accounts.createAccount('bench', 'enterprise');
  const { key } = await accounts.createKey('bench');
  const client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
  const stop = async () => {
    await api.stop();
    await runner.stop();
    // Every session was deleted: what is left of the node's workspace directory is empty.
    const dir = join(loadConfig(env).WORKSPACE_DIR, env.NODE_ID);
    for (const d of [join(dir, 'mnt'), dir, `${dir}.unclaimed`]) try { rmdirSync(d); } catch { /* not empty or absent */ }
  };
  return { api, key, client, accounts, keys: new Keys(env.REDIS_PREFIX), stop };
}

const main = await service('bench');
// Sessions here go to deep sleep after 2 s without a request: wake is measured there.
const sleepy = await service('benchsleep', { IDLE_AFTER: '1', SLEEP_AFTER: '2', WARM_POOL_SIZE: '0' });
const { api, key, client } = main;
const limits = { memory: 512, cpu: 1, timeout: 30, disk: 256 };

try {
  bareSpawn(5);
  const bare = bareSpawn(50);
  const bareP = await bareParallel(400);

  const createTimes: number[] = [];
  const sessions: string[] = [];
  for (let i = 0; i < 16; i++) {
    let id = '';
    createTimes.push(await timed(async () => { id = (await client.sessions.create({ resourceLimits: limits })).id; }));
    sessions.push(id);
  }

  // Default-shape sessions come from the warm pool; a pause between creates lets it refill.
  const warmTimes: number[] = [];
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 700));
    let id = '';
    warmTimes.push(await timed(async () => { id = (await client.sessions.create()).id; }));
    await client.sessions.delete(id);
  }

  const first = sessions[0]!;
  for (let i = 0; i < 10; i++) await client.execute({ sessionId: first, code: 'console.log(1)' });
  const exec: number[] = [];
  for (let i = 0; i < 200; i++) exec.push(await timed(() => client.execute({ sessionId: first, code: 'console.log(1)' })));

  const windowMs = 10_000;
  let done = 0;
  const busy0 = machineBusyMs();
  const node0 = process.cpuUsage();
  const until = performance.now() + windowMs;
  const started = performance.now();
  // A lean keep-alive HTTP client, as a load generator on another machine would be: the
  // figures are the service's, not the client library's.
  await Promise.all(sessions.map(async (sessionId) => {
    while (performance.now() < until) {
      const r = await leanExecute(api.url, key, { sessionId, code: 'console.log(1)' });
      if (r.stdout === '1\n') done++;
    }
  }));
  const perSec = done / ((performance.now() - started) / 1000);
  const cpuPerExec = (machineBusyMs() - busy0) / done;
  const nodeCpu = process.cpuUsage(node0);
  const nodePerExec = (nodeCpu.user + nodeCpu.system) / 1000 / done;

  const files = await benchFiles(client, first, 30);
  const fork = await benchFork(client, 100);
  const wake1 = await benchWake(sleepy.client, 1);
  const wake500 = await benchWake(sleepy.client, 500);

  const b50 = pct(bare, 50);
  const e50 = pct(exec, 50);
  const rows: Array<[string, string, string]> = [
    ['bare `bun -e` spawn on the host, p50 (baseline)', `${b50.toFixed(1)} ms`, ''],
    ['trivial POST /execute over HTTP, p50', `${e50.toFixed(1)} ms`, `${(e50 / b50).toFixed(2)}× baseline (target ≤ 3×)`],
    ['trivial POST /execute over HTTP, p99', `${pct(exec, 99).toFixed(1)} ms`, `${(pct(exec, 99) / b50).toFixed(2)}× baseline`],
    ['bare `bun -e` spawns/s on the host, 16 in parallel', bareP.perSec.toFixed(0), `${bareP.cpuMs.toFixed(1)} ms machine CPU each (baseline)`],
    ['executes/s, 16 sessions in parallel', perSec.toFixed(0), `target ≥ 150; ${(perSec / bareP.perSec * 100).toFixed(0)}% of bare; ${cpuPerExec.toFixed(1)} ms machine CPU each, ${nodePerExec.toFixed(1)} ms of it in this process (load generator, API, runner)`],
    ['POST /sessions/create, new container, p50', `${pct(createTimes, 50).toFixed(0)} ms`, `p99 ${pct(createTimes, 99).toFixed(0)} ms`],
    ['POST /sessions/create, from the warm pool, p50', `${pct(warmTimes, 50).toFixed(0)} ms`, `p99 ${pct(warmTimes, 99).toFixed(0)} ms`],
    ...fileRows(files),
    ['wake from deep sleep, 1 MB workspace, p50', `${wake1.toFixed(0)} ms`, 'target ≤ 300 ms (a request until its program ran)'],
    ['wake from deep sleep, 500 MB workspace, p50', `${wake500.toFixed(0)} ms`, 'target ≤ 300 ms, whatever the size'],
    [`POST /sessions/{id}/fork, ${fork.sourceMb} MB workspace, p50`, `${fork.forkMs.toFixed(0)} ms`,
      `a writer in the source meanwhile: 4 KB write+fsync p50 ${fork.sourceWriteP50Ms.toFixed(1)} ms, max ${fork.sourceWriteMaxMs.toFixed(0)} ms`],
  ];
  await Promise.all(sessions.map((id) => client.sessions.delete(id)));
  rows.push(...await benchEgress(client, fixtures, BUN, limits));
  rows.push(...await benchFairness({ baseUrl: api.url, accounts: main.accounts, slots: new ExecSlots(redis, main.keys) }));
  console.log(`\nBuntime bench (${new Date().toISOString()}, ${process.arch}, bun ${spawnSync(BUN, ['--version']).stdout.toString().trim()})\n`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(56)} ${value.padStart(10)}   ${note}`);
  console.log('');
} finally {
  await main.stop();
  await sleepy.stop();
  await fixtures.stop();
  redis.disconnect();
}

function fileRows(f: Awaited<ReturnType<typeof benchFiles>>): Array<[string, string, string]> {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}× docker exec (target ≤ 2×)`;
  return [
    [`POST /files/write, ${f.sizeMb} MB, median`, `${f.apiWriteMs.toFixed(0)} ms`, ratio(f.apiWriteMs, f.execWriteMs)],
    [`docker exec -i … 'cat > file', ${f.sizeMb} MB, median`, `${f.execWriteMs.toFixed(0)} ms`, 'same run, same container'],
    [`GET /files/read, ${f.sizeMb} MB, median`, `${f.apiReadMs.toFixed(0)} ms`, ratio(f.apiReadMs, f.execReadMs)],
    [`docker exec … 'cat file', ${f.sizeMb} MB, median`, `${f.execReadMs.toFixed(0)} ms`, 'same run, same container'],
  ];
}
